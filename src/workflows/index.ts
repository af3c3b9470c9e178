// The workflow bundle's entry point: only deterministic code is reachable from here.
export { keyWorkflow } from './key.js';
export { callRecordWorkflow } from './record.js';
export { callWorkflow } from './call.js';
export { laneWorkflow } from './lane.js';
export { deadLetterWorkflow } from './dead-letter.js';
export { sagaWorkflow } from './saga.js';
export { auditExportWorkflow } from './audit-export.js';
