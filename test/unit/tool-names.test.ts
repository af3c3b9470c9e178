// Public tool names (src/gateway/tool-names.ts) and the aggregated, paginated catalog
// (src/gateway/catalog.ts) over a fake downstream pool.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { BROKER_TOOLS } from '../../src/gateway/broker-tools/index.js';
import { InvalidCursorError, ToolCatalog } from '../../src/gateway/catalog.js';
import {
  BROKER_PREFIX,
  brokerToolName,
  isValidToolName,
  publicToolName,
  splitToolName,
  type NamingOptions,
} from '../../src/gateway/tool-names.js';
import { createLogger } from '../../src/observability/log.js';

const naming = (separator: string, unprefixed: string[] = []): NamingOptions => ({ separator, unprefixed: new Set(unprefixed) });

const tool = (name: string, description = `the ${name} tool`): Tool => ({ name, description, inputSchema: { type: 'object' } });

interface FakeServer {
  id: string;
  tools: Tool[];
  deny?: string[];
  /** Return denied tools from listTools() too, like a stale list would. */
  unfiltered?: boolean;
}

function fakePool(servers: FakeServer[]): never {
  const connections = servers.map((server) => {
    const allowed = (name: string) => !(server.deny ?? []).includes(name);
    const list = () => (server.unfiltered ? server.tools : server.tools.filter((t) => allowed(t.name)));
    return { id: server.id, listTools: list, knownTools: list, isToolAllowed: allowed };
  });
  return { all: () => connections, get: (id: string) => connections.find((c) => c.id === id) } as never;
}

function catalog(servers: FakeServer[], options: NamingOptions = naming('.'), pageSize = 100) {
  const warnings: string[] = [];
  const log = createLogger('warn', 'test', (line) => warnings.push(line));
  return { catalog: new ToolCatalog(fakePool(servers), options, pageSize, log), warnings };
}

const brokerNames = (separator: string) => BROKER_TOOLS.map((t) => `${BROKER_PREFIX}${separator}${t.name}`);

describe('publicToolName and brokerToolName', () => {
  it('prefixes with the server id and the separator', () => {
    assert.equal(publicToolName('files', 'read', naming('.')), 'files.read');
    assert.equal(publicToolName('files', 'read', naming('_')), 'files_read');
    assert.equal(publicToolName('files', 'read', naming('__')), 'files__read');
  });

  it('keeps the bare name for an unprefixed server only', () => {
    const options = naming('.', ['files']);
    assert.equal(publicToolName('files', 'read', options), 'read');
    assert.equal(publicToolName('other', 'read', options), 'other.read');
  });

  it('gives a bare name to the first unprefixed server that offers it when several are unprefixed', () => {
    const options = naming('.', ['legacy', 'modern']);
    const offers = (serverId: string, tool: string) => (serverId === 'legacy' ? tool === 'echo' : tool === 'echo' || tool === 'ask');
    assert.deepEqual(splitToolName('ask', new Set(['legacy', 'modern']), options, offers), { serverId: 'modern', tool: 'ask' });
    assert.deepEqual(splitToolName('echo', new Set(['legacy', 'modern']), options, offers), { serverId: 'legacy', tool: 'echo' });
  });

  it('puts broker tools under the switchyard prefix', () => {
    assert.equal(BROKER_PREFIX, 'switchyard');
    assert.equal(brokerToolName('get_call', naming('.')), 'switchyard.get_call');
    assert.equal(brokerToolName('get_call', naming('__')), 'switchyard__get_call');
    assert.equal(brokerToolName('get_call', naming('.', ['files'])), 'switchyard.get_call');
  });
});

describe('isValidToolName', () => {
  it('accepts 1-128 characters of A-Z a-z 0-9 _ . -', () => {
    assert.equal(isValidToolName('a'), true);
    assert.equal(isValidToolName('files.read_file-v2'), true);
    assert.equal(isValidToolName('x'.repeat(128)), true);
  });

  it('refuses empty, too long and other characters', () => {
    for (const name of ['', 'x'.repeat(129), 'has space', 'slash/name', 'ünïcode', 'colon:name', 'new\nline']) {
      assert.equal(isValidToolName(name), false, JSON.stringify(name));
    }
  });
});

describe('splitToolName', () => {
  const ids = new Set(['files', 'web-search']);

  it('splits at the first separator', () => {
    assert.deepEqual(splitToolName('files.read', ids, naming('.')), { serverId: 'files', tool: 'read' });
  });

  it('keeps separators inside the tool name', () => {
    assert.deepEqual(splitToolName('files.read.file', ids, naming('.')), { serverId: 'files', tool: 'read.file' });
    assert.deepEqual(splitToolName('files_read_file', ids, naming('_')), { serverId: 'files', tool: 'read_file' });
    assert.deepEqual(splitToolName('files__read__file', ids, naming('__')), { serverId: 'files', tool: 'read__file' });
    assert.deepEqual(splitToolName('files__read_file', ids, naming('__')), { serverId: 'files', tool: 'read_file' });
    assert.deepEqual(splitToolName('web-search.query', ids, naming('.')), { serverId: 'web-search', tool: 'query' });
  });

  it('returns undefined for unknown prefixes and malformed names', () => {
    const options = naming('.');
    for (const name of ['nope.read', 'read', '.read', 'files.', 'files', 'switchyard.get_call', 'files_read']) {
      assert.equal(splitToolName(name, ids, options), undefined, name);
    }
  });

  it('maps every name to the single unprefixed server', () => {
    const only = new Set(['files']);
    const options = naming('.', ['files']);
    assert.deepEqual(splitToolName('read', only, options), { serverId: 'files', tool: 'read' });
    assert.deepEqual(splitToolName('read.file', only, options), { serverId: 'files', tool: 'read.file' });
    // The server's own id is not a prefix when it is unprefixed.
    assert.deepEqual(splitToolName('files.read', only, options), { serverId: 'files', tool: 'files.read' });
  });
});

describe('ToolCatalog.all', () => {
  const servers: FakeServer[] = [
    { id: 'files', tools: [tool('read'), tool('read.file'), tool('write')], deny: ['write'] },
    { id: 'web', tools: [tool('search')] },
  ];

  it('lists downstream tools under public names, then the broker tools last', () => {
    const { catalog: c } = catalog(servers);
    assert.deepEqual(
      c.all().map((t) => t.name),
      ['files.read', 'files.read.file', 'web.search', ...brokerNames('.')],
    );
  });

  it('keeps the rest of each definition and leaves the downstream tool untouched', () => {
    const original = tool('search', 'searches the web');
    const { catalog: c } = catalog([{ id: 'web', tools: [original] }]);
    const listed = c.all().find((t) => t.name === 'web.search');
    // Only the task support is the broker's own: it runs every downstream tool as a durable task.
    assert.deepEqual(listed, { ...original, name: 'web.search', execution: { taskSupport: 'optional' } });
    assert.equal(original.name, 'search');
  });

  it('uses the configured separator for downstream and broker tools', () => {
    for (const separator of ['_', '__']) {
      const { catalog: c } = catalog(servers, naming(separator));
      assert.deepEqual(
        c.all().map((t) => t.name),
        [`files${separator}read`, `files${separator}read.file`, `web${separator}search`, ...brokerNames(separator)],
      );
    }
  });

  it('lists bare names for an unprefixed single server', () => {
    const { catalog: c } = catalog([{ id: 'files', tools: [tool('read'), tool('write')] }], naming('.', ['files']));
    assert.deepEqual(
      c.all().map((t) => t.name),
      ['read', 'write', ...brokerNames('.')],
    );
  });

  it('skips tools whose public name is not a valid MCP tool name, with a warning', () => {
    const tooLong = 'x'.repeat(125); // valid alone, 131 characters with "files."
    const { catalog: c, warnings } = catalog([{ id: 'files', tools: [tool('ok'), tool('has space'), tool(tooLong), tool('slash/name')] }]);
    assert.deepEqual(
      c.all().map((t) => t.name),
      ['files.ok', ...brokerNames('.')],
    );
    assert.equal(warnings.length, 3);
    assert.ok(warnings.every((w) => w.includes('WARN') && w.includes('server="files"')), warnings.join(''));
    assert.ok(warnings[0]!.includes('tool="has space"'), warnings[0]);
  });

  it('does not resolve a tool it skipped from the listing', () => {
    // A client can only call what it was shown: listing and resolution must agree.
    const tooLong = 'x'.repeat(125);
    const { catalog: c } = catalog([{ id: 'files', tools: [tool('ok'), tool('has space'), tool(tooLong)] }]);
    assert.ok(c.resolve('files.ok'));
    assert.equal(c.resolve('files.has space'), undefined);
    assert.equal(c.resolve(`files.${tooLong}`), undefined);
  });

  it('lists only the broker tools when no server is ready', () => {
    const { catalog: c } = catalog([{ id: 'files', tools: [] }]);
    assert.deepEqual(
      c.all().map((t) => t.name),
      brokerNames('.'),
    );
  });
});

describe('ToolCatalog.resolve and brokerTool', () => {
  const files: FakeServer = { id: 'files', tools: [tool('read'), tool('read.file'), tool('secret')], deny: ['secret'] };

  it('resolves a public name to server, tool and the downstream definition', () => {
    const { catalog: c } = catalog([files, { id: 'web', tools: [tool('search')] }]);
    const resolved = c.resolve('files.read.file');
    assert.ok(resolved);
    assert.equal(resolved.serverId, 'files');
    assert.equal(resolved.tool, 'read.file');
    assert.equal(resolved.publicName, 'files.read.file');
    assert.equal(resolved.definition.name, 'read.file');
    assert.equal(c.resolve('web.search')?.serverId, 'web');
  });

  it('resolves with custom separators', () => {
    const { catalog: c } = catalog([files], naming('__'));
    assert.deepEqual(
      { ...c.resolve('files__read.file'), definition: undefined },
      { serverId: 'files', tool: 'read.file', publicName: 'files__read.file', definition: undefined },
    );
    assert.equal(c.resolve('files.read'), undefined);
  });

  it('resolves bare names for an unprefixed server', () => {
    const { catalog: c } = catalog([{ ...files, deny: [] }], naming('.', ['files']));
    assert.equal(c.resolve('read')?.tool, 'read');
    assert.equal(c.resolve('read.file')?.tool, 'read.file');
    assert.equal(c.resolve('files.read'), undefined);
  });

  it('does not resolve unknown servers or unknown tools', () => {
    const { catalog: c } = catalog([files]);
    assert.equal(c.resolve('nope.read'), undefined);
    assert.equal(c.resolve('files.nope'), undefined);
    assert.equal(c.resolve('read'), undefined);
  });

  it('does not resolve denied tools, even if a stale list still has them', () => {
    assert.equal(catalog([files]).catalog.resolve('files.secret'), undefined);
    const stale = catalog([{ ...files, unfiltered: true }]).catalog;
    assert.equal(stale.resolve('files.secret'), undefined);
    assert.ok(stale.resolve('files.read'));
  });

  it('does not resolve tools of a server that is not ready', () => {
    const { catalog: c } = catalog([{ id: 'files', tools: [] }]);
    assert.equal(c.resolve('files.read'), undefined);
  });

  it('does not resolve broker tools as downstream tools; brokerTool() does', () => {
    const { catalog: c } = catalog([files]);
    for (const broker of BROKER_TOOLS) {
      const name = `switchyard.${broker.name}`;
      assert.equal(c.resolve(name), undefined);
      assert.equal(c.brokerTool(name), broker.name);
    }
    assert.equal(c.brokerTool('switchyard.get_call'), 'get_call');
    assert.equal(c.brokerTool('switchyard.cancel_call'), 'cancel_call');
    assert.equal(c.brokerTool('switchyard.nope'), undefined);
    assert.equal(c.brokerTool('files.read'), undefined);
    assert.equal(c.brokerTool('get_call'), undefined);
    assert.equal(c.brokerTool('switchyard__get_call'), undefined);
  });

  it('brokerTool() follows the separator', () => {
    const { catalog: c } = catalog([files], naming('__'));
    assert.equal(c.brokerTool('switchyard__get_call'), 'get_call');
    assert.equal(c.brokerTool('switchyard.get_call'), undefined);
  });
});

describe('ToolCatalog.page', () => {
  const many: FakeServer[] = [
    { id: 'a', tools: [tool('one'), tool('two'), tool('three')] },
    { id: 'b', tools: [tool('four'), tool('five')] },
  ];

  for (const pageSize of [1, 2, 3, 6, 7, 100]) {
    it(`pages of ${pageSize} concatenate to all() and the last page has no cursor`, () => {
      const { catalog: c } = catalog(many, naming('.'), pageSize);
      const all = c.all();
      assert.equal(all.length, 5 + BROKER_TOOLS.length);
      const seen: Tool[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = c.page(cursor);
        pages += 1;
        assert.ok(page.tools.length <= pageSize);
        assert.ok(page.tools.length > 0);
        seen.push(...page.tools);
        cursor = page.nextCursor;
        if (cursor === undefined) assert.equal('nextCursor' in page, false);
        assert.ok(pages <= all.length, 'too many pages');
      } while (cursor !== undefined);
      assert.deepEqual(seen, all);
      assert.equal(pages, Math.ceil(all.length / pageSize));
    });
  }

  it('gives the first page without a cursor', () => {
    const { catalog: c } = catalog(many, naming('.'), 2);
    const first = c.page(undefined);
    assert.deepEqual(
      first.tools.map((t) => t.name),
      ['a.one', 'a.two'],
    );
    assert.equal(typeof first.nextCursor, 'string');
  });

  it('refuses an invalid cursor', () => {
    const { catalog: c } = catalog(many, naming('.'), 2);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
    for (const cursor of ['', 'not a cursor!', 'bm9wZQ', encode(null), encode({ o: -1 }), encode({ o: 1.5 }), encode({ o: '2' }), encode({})]) {
      assert.throws(() => c.page(cursor), InvalidCursorError, JSON.stringify(cursor));
    }
  });
});
