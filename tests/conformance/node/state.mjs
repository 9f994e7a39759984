// openai-node (v7) scenarios on the gateway's stored state, run by test_openai_node_state.py.
//
//   node node/state.mjs <retrieve|input-items|delete|chain|conversations>
//
// Env: SWITCHYARD_BASE_URL (…/v1), SWITCHYARD_API_KEY, SWITCHYARD_MODEL.
// Prints one "ok: …" line and exits 0 on success; prints the failure and exits 1 otherwise.
import assert from 'node:assert/strict';
import OpenAI, { BadRequestError, NotFoundError } from 'openai';

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

const TOOL_OUTPUT = 'sunny-42-from-node-state';
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

const collect = async (iterable) => {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
};

const rejects = async (promise, ErrorClass, what) => {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ErrorClass, `${what}: expected ${ErrorClass.name}, got ${err}`);
    return true;
  });
};

// One turn, through responses.stream() when `stream`, else responses.create().
const turn = async (stream, params) => {
  if (!stream) return client.responses.create(params);
  const s = client.responses.stream(params);
  for await (const _ of s);
  return s.finalResponse();
};

const scenarios = {
  // create (JSON and streamed), then retrieve: the same response.
  async retrieve() {
    const created = await client.responses.create({ model, input: 'remember me', metadata: { suite: 'node' } });
    const stored = await client.responses.retrieve(created.id);
    assert.equal(stored.id, created.id);
    assert.equal(stored.status, 'completed');
    assert.equal(stored.output_text, 'You said: remember me');
    assert.deepEqual(stored.output, created.output);
    assert.deepEqual(stored.metadata, { suite: 'node' });

    const streamed = await turn(true, { model, input: 'remember the stream' });
    const again = await client.responses.retrieve(streamed.id);
    assert.equal(again.output_text, 'You said: remember the stream');
    assert.deepEqual(again.usage, streamed.usage);
    return `retrieved ${created.id} and ${streamed.id}`;
  },

  // input_items in pages of two, iterated by the client's auto-pagination.
  async 'input-items'() {
    const texts = ['one', 'two', 'three', 'four', 'five'];
    const response = await client.responses.create({
      model,
      input: texts.map((content) => ({ role: 'user', content })),
    });
    const firstPage = await client.responses.inputItems.list(response.id, { limit: 2, order: 'asc' });
    assert.equal(firstPage.data.length, 2);
    assert.equal(firstPage.has_more, true);
    assert.ok(firstPage.hasNextPage(), 'a first page of two must have a next page');
    const pages = await collect(firstPage.iterPages());
    assert.deepEqual(pages.map((p) => p.data.length), [2, 2, 1]);
    const items = await collect(client.responses.inputItems.list(response.id, { limit: 2, order: 'asc' }));
    assert.deepEqual(items.map((i) => i.content[0].text), texts);
    const desc = await collect(client.responses.inputItems.list(response.id));
    assert.deepEqual(desc.map((i) => i.content[0].text), [...texts].reverse(), 'desc by default');
    return `${items.length} items in ${pages.length} pages`;
  },

  // delete, then every route for the id is a 404.
  async delete() {
    const response = await client.responses.create({ model, input: 'short-lived' });
    await client.responses.delete(response.id);
    await rejects(client.responses.retrieve(response.id), NotFoundError, 'retrieve after delete');
    await rejects(collect(client.responses.inputItems.list(response.id)), NotFoundError, 'input_items after delete');
    await rejects(client.responses.delete(response.id), NotFoundError, 'delete after delete');
    const forgotten = await client.responses.create({ model, input: 'forget me', store: false });
    assert.equal(forgotten.store, false);
    await rejects(client.responses.retrieve(forgotten.id), NotFoundError, 'retrieve with store: false');
    return `deleted ${response.id}`;
  },

  // Three turns with previous_response_id (the middle one streamed), then a tool loop that
  // sends only the tool's output.
  async chain() {
    const first = await turn(false, { model, input: 'alpha', instructions: 'first rules' });
    const second = await turn(true, { model, input: 'beta', previous_response_id: first.id });
    const third = await turn(false, { model, input: 'gamma', previous_response_id: second.id });
    assert.equal(second.previous_response_id, first.id);
    assert.equal(third.previous_response_id, second.id);
    assert.equal(third.instructions, null, 'instructions are not inherited');
    assert.equal(third.output_text, 'You said: gamma');
    const alone = await turn(false, { model, input: 'gamma' });
    // The mock counts words: the upstream saw "alpha", "You said: alpha", "beta", "You said: beta".
    assert.equal(third.usage.input_tokens, alone.usage.input_tokens + 8, 'the history went upstream');

    const asked = await turn(false, { model, input: 'What is the weather in Paris?', tools: [weatherTool] });
    const call = asked.output.find((item) => item.type === 'function_call');
    assert.ok(call, `expected a function_call, got ${JSON.stringify(asked.output)}`);
    const answered = await turn(true, {
      model,
      tools: [weatherTool],
      previous_response_id: asked.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: TOOL_OUTPUT }],
    });
    assert.equal(answered.output_text, `The tool returned: ${TOOL_OUTPUT}`);
    return `chain ${first.id} -> ${third.id}; tool loop ${answered.id}`;
  },

  // The Conversations API, and `conversation` on create.
  async conversations() {
    const conversation = await client.conversations.create({
      metadata: { topic: 'node' },
      items: [
        { type: 'message', role: 'user', content: 'Hello there' },
        { type: 'message', role: 'assistant', content: 'General Kenobi' },
      ],
    });
    assert.equal(conversation.object, 'conversation');
    assert.deepEqual((await client.conversations.retrieve(conversation.id)).metadata, { topic: 'node' });
    const updated = await client.conversations.update(conversation.id, { metadata: { topic: 'renamed' } });
    assert.deepEqual(updated.metadata, { topic: 'renamed' });

    const response = await turn(false, { model, conversation: conversation.id, input: 'first turn' });
    assert.equal(response.conversation?.id, conversation.id);
    const streamed = await turn(true, { model, conversation: conversation.id, input: 'second turn' });
    assert.equal(streamed.output_text, 'You said: second turn');

    const added = await client.conversations.items.create(conversation.id, {
      items: [{ type: 'message', role: 'user', content: 'by hand' }],
    });
    const [byHand] = added.data;
    const fetched = await client.conversations.items.retrieve(byHand.id, { conversation_id: conversation.id });
    assert.equal(fetched.content[0].text, 'by hand');
    const items = await collect(client.conversations.items.list(conversation.id, { order: 'asc', limit: 2 }));
    assert.deepEqual(
      items.map((i) => [i.role, i.content[0].text]),
      [
        ['user', 'Hello there'],
        ['assistant', 'General Kenobi'],
        ['user', 'first turn'],
        ['assistant', 'You said: first turn'],
        ['user', 'second turn'],
        ['assistant', 'You said: second turn'],
        ['user', 'by hand'],
      ],
    );
    const afterDelete = await client.conversations.items.delete(byHand.id, { conversation_id: conversation.id });
    assert.equal(afterDelete.id, conversation.id);
    await rejects(
      client.conversations.items.retrieve(byHand.id, { conversation_id: conversation.id }),
      NotFoundError,
      'deleted item',
    );
    await rejects(
      client.responses.create({ model, conversation: conversation.id, previous_response_id: response.id, input: 'x' }),
      BadRequestError,
      'conversation with previous_response_id',
    );

    const deleted = await client.conversations.delete(conversation.id);
    assert.equal(deleted.deleted, true);
    await rejects(client.conversations.retrieve(conversation.id), NotFoundError, 'deleted conversation');
    return `conversation ${conversation.id}: ${items.length} items`;
  },
};

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  console.error(`usage: node state.mjs <${Object.keys(scenarios).join('|')}>`);
  process.exit(2);
}
try {
  console.log(`ok: ${name}: ${await scenario()}`);
} catch (err) {
  console.error(`FAIL: ${name}: ${err?.stack ?? err}`);
  if (err?.status) console.error(`HTTP status ${err.status}; error body: ${JSON.stringify(err.error)}`);
  process.exit(1);
}
