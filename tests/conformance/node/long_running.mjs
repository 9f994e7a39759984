// openai-node (v7) scenarios on background responses and compaction, run by
// test_openai_node.py (gateway only).
//
//   node node/long_running.mjs <background-poll|background-cancel|compact>
//
// Env: SWITCHYARD_BASE_URL (…/v1), SWITCHYARD_API_KEY, SWITCHYARD_MODEL.
// Prints one "ok: …" line and exits 0 on success; prints the failure and exits 1 otherwise.
import assert from 'node:assert/strict';
import OpenAI, { BadRequestError } from 'openai';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing env var ${name}`);
  return value;
};

const client = new OpenAI({
  baseURL: env('SWITCHYARD_BASE_URL'),
  apiKey: env('SWITCHYARD_API_KEY'),
  maxRetries: 0,
  timeout: 30_000,
});
const model = env('SWITCHYARD_MODEL');
const ENDED = ['completed', 'incomplete', 'failed', 'cancelled'];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// retrieve until the response ends; returns it and the statuses seen on the way.
const poll = async (id) => {
  const seen = [];
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await client.responses.retrieve(id);
    if (seen.at(-1) !== response.status) seen.push(response.status);
    if (ENDED.includes(response.status)) return { response, seen };
    assert.ok(Date.now() < deadline, `still ${response.status}: ${seen}`);
    await sleep(100);
  }
};

const HISTORY = [
  { role: 'user', content: 'My name is Ada and I like compilers.' },
  { role: 'assistant', content: 'Nice to meet you, Ada.' },
  { role: 'user', content: 'Remember the codeword heliotrope.' },
];

const scenarios = {
  async 'background-poll'() {
    const prompt = '[[mock:slow=1000]] tell me later';
    const queued = await client.responses.create({ model, input: prompt, background: true });
    assert.equal(queued.background, true);
    assert.ok(['queued', 'in_progress'].includes(queued.status), queued.status);
    const { response, seen } = await poll(queued.id);
    assert.equal(response.status, 'completed', JSON.stringify(response));
    assert.equal(seen.at(-1), 'completed');
    assert.equal(response.output_text, `You said: ${prompt}`);
    assert.ok(response.usage.input_tokens > 0);
    return `${queued.id}: ${seen.join(' -> ')}`;
  },

  async 'background-cancel'() {
    const queued = await client.responses.create({
      model, input: '[[mock:slow=20000]] take your time', background: true,
    });
    const started = Date.now();
    const cancelled = await client.responses.cancel(queued.id);
    assert.equal(cancelled.id, queued.id);
    assert.equal(cancelled.status, 'cancelled', JSON.stringify(cancelled));
    assert.equal(cancelled.error ?? null, null);
    assert.ok(Date.now() - started < 15_000, 'cancel waited for the upstream');
    assert.equal((await client.responses.retrieve(queued.id)).status, 'cancelled');
    assert.equal((await client.responses.cancel(queued.id)).status, 'cancelled', 'idempotent');
    const plain = await client.responses.create({ model, input: 'right now' });
    await assert.rejects(client.responses.cancel(plain.id), (err) => err instanceof BadRequestError);
    return `cancelled ${queued.id}`;
  },

  async compact() {
    const compacted = await client.responses.compact({ model, input: HISTORY });
    assert.equal(compacted.object, 'response.compaction');
    const compactions = compacted.output.filter((item) => item.type === 'compaction');
    assert.equal(compactions.length, 1, JSON.stringify(compacted.output));
    assert.equal(compacted.output.at(-1), compactions[0]);
    assert.ok(compactions[0].encrypted_content);
    const users = compacted.output.slice(0, -1);
    assert.deepEqual(users.map((m) => [m.type, m.role]), [['message', 'user'], ['message', 'user']]);
    assert.deepEqual(users.map((m) => m.content[0].text), [HISTORY[0].content, HISTORY[2].content]);
    assert.ok(compacted.usage.total_tokens > 0);

    // The window continues the conversation; the upstream got more than the words around it.
    const followUp = 'What was the codeword?';
    const response = await client.responses.create({
      model, input: [...compacted.output, { role: 'user', content: followUp }],
    });
    assert.equal(response.status, 'completed');
    assert.ok(response.output_text.startsWith('You said: ') && response.output_text.endsWith(followUp),
      response.output_text);
    const visible = [HISTORY[0], HISTORY[2], { content: followUp }]
      .map((m) => m.content.split(/\s+/).length).reduce((a, b) => a + b, 0);
    assert.ok(response.usage.input_tokens > visible, `${response.usage.input_tokens} <= ${visible}`);

    // A streamed compaction trigger: exactly one compaction item.
    const events = [];
    const stream = await client.responses.create({
      model, stream: true, input: [...HISTORY, { type: 'compaction_trigger' }],
    });
    for await (const event of stream) events.push(event);
    assert.equal(events.at(-1).type, 'response.completed');
    const done = events.filter((e) => e.type === 'response.output_item.done').map((e) => e.item.type);
    assert.deepEqual(done, ['compaction']);
    return `compacted to ${compacted.output.length} items`;
  },
};

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  console.error(`usage: node long_running.mjs <${Object.keys(scenarios).join('|')}>`);
  process.exit(2);
}
try {
  console.log(`ok: ${name}: ${await scenario()}`);
} catch (err) {
  console.error(`FAIL: ${name}: ${err?.stack ?? err}`);
  if (err?.status) console.error(`HTTP status ${err.status}; error body: ${JSON.stringify(err.error)}`);
  process.exit(1);
}
