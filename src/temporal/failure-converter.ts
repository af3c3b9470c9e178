// Loaded by path (DataConverter.failureConverterPath), by the worker, the client and the workflow
// bundle built for encryption: a failure's message and stack trace go into a payload, so the codec
// encrypts them too. Without this they would stay plaintext in the history: a downstream error's
// message can quote the call's arguments.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
