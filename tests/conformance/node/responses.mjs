// openai-node (v7) conformance scenarios, run by test_openai_node.py.
//
//   node node/responses.mjs <stream-text|create-text|function-call>
//
// Env: SWITCHYARD_BASE_URL (…/v1), SWITCHYARD_API_KEY, SWITCHYARD_MODEL.
// Prints one "ok: …" line and exits 0 on success; prints the failure and exits 1 otherwise.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

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

const TOOL_OUTPUT = 'sunny-42-from-node';
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

const scenarios = {
  // responses.stream(): iterate every event, then finalResponse() must resolve with the text.
  async 'stream-text'() {
    const stream = client.responses.stream({ model, input: 'hello from node' });
    const events = [];
    for await (const event of stream) events.push(event);
    const final = await stream.finalResponse();

    const types = events.map((e) => e.type);
    assert.equal(types[0], 'response.created', `first event; all: ${types}`);
    assert.equal(types.at(-1), 'response.completed', `last event; all: ${types}`);
    const seqs = events.map((e) => e.sequence_number);
    assert.deepEqual(seqs, [...seqs.keys()], 'sequence_number must be contiguous from 0');
    assert.equal(final.status, 'completed');
    assert.match(final.output_text, /You said/, 'final output_text');
    assert.match(final.output_text, /hello from node/, 'final output_text');
    const deltas = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    assert.equal(deltas, final.output_text, 'text deltas must join to the final text');
    return `${events.length} events, text ${JSON.stringify(final.output_text)}`;
  },

  async 'create-text'() {
    const response = await client.responses.create({ model, input: 'plain create from node' });
    assert.equal(response.object, 'response');
    assert.equal(response.status, 'completed');
    assert.match(response.output_text, /You said/, 'output_text');
    return `text ${JSON.stringify(response.output_text)}`;
  },

  // responses.create() with a function tool, then send history + function_call_output back.
  async 'function-call'() {
    const user = { role: 'user', content: 'What is the weather in Paris?' };
    const first = await client.responses.create({ model, input: [user], tools: [weatherTool] });
    const calls = first.output.filter((item) => item.type === 'function_call');
    assert.equal(calls.length, 1, `expected one function_call, got ${JSON.stringify(first.output)}`);
    const [call] = calls;
    assert.equal(call.name, 'get_weather');
    assert.ok(call.call_id, 'call_id must be non-empty');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'x' }, 'function_call.arguments');

    const second = await client.responses.create({
      model,
      tools: [weatherTool],
      input: [user, ...first.output, { type: 'function_call_output', call_id: call.call_id, output: TOOL_OUTPUT }],
    });
    assert.equal(second.status, 'completed');
    assert.ok(
      second.output_text.includes(`The tool returned: ${TOOL_OUTPUT}`),
      `final output_text ${JSON.stringify(second.output_text)}`,
    );
    return `final text ${JSON.stringify(second.output_text)}`;
  },
};

const name = process.argv[2];
const scenario = scenarios[name];
if (!scenario) {
  console.error(`usage: node responses.mjs <${Object.keys(scenarios).join('|')}>`);
  process.exit(2);
}
try {
  console.log(`ok: ${name}: ${await scenario()}`);
} catch (err) {
  console.error(`FAIL: ${name}: ${err?.stack ?? err}`);
  if (err?.status) console.error(`HTTP status ${err.status}; error body: ${JSON.stringify(err.error)}`);
  process.exit(1);
}
