// clients.mjs — run the real coding agents, Claude Code (`claude -p`) and
// Codex CLI (`codex exec`), against a base URL on loopback, hermetically:
// each run gets a fresh temp HOME (and CODEX_HOME / CLAUDE_CONFIG_DIR in it),
// every switch that stops their telemetry, update checks and error reports,
// no proxy, and a hard timeout.  The binaries are the exact versions pinned in
// package.json (node_modules/.bin).  Nothing here knows about tollgate: the
// same runner feeds the fixture capture (capture_clients.mjs) and the tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLAUDE_BIN = path.join(ROOT, 'node_modules/.bin/claude');
export const CODEX_BIN = path.join(ROOT, 'node_modules/.bin/codex');

export function haveClaude() { return fs.existsSync(CLAUDE_BIN); }
export function haveCodex() { return fs.existsSync(CODEX_BIN); }

// The variables a client run keeps from the parent: enough to find node and
// libraries, nothing that carries credentials, proxies or the user's config.
function baseEnv(home) {
  const env = {
    PATH: [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: home,
    USER: 'tollgate-e2e',
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    NO_COLOR: '1',
    TMPDIR: path.join(home, 'tmp'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    // Loopback only: no proxy may catch the traffic, and none is needed.
    NO_PROXY: '*', no_proxy: '*',
  };
  fs.mkdirSync(env.TMPDIR, { recursive: true });
  return env;
}

/**
 * Environment for `claude -p` pointed at baseURL (without /v1: Claude Code
 * appends /v1/messages itself).  headers: extra request headers, sent with
 * ANTHROPIC_CUSTOM_HEADERS ("Name: value" lines).
 */
export function claudeEnv({ home, baseURL, apiKey, headers = {}, model = 'claude-sonnet-4-5' }) {
  const env = baseEnv(home);
  Object.assign(env, {
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ANTHROPIC_BASE_URL: baseURL,
    ANTHROPIC_API_KEY: apiKey,
    ANTHROPIC_MODEL: model,
    // Background and "small fast" calls (titles, summaries) use the same model,
    // so every call it makes goes to the one route under test.
    ANTHROPIC_SMALL_FAST_MODEL: model,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: model,
    ANTHROPIC_DEFAULT_SONNET_MODEL: model,
    ANTHROPIC_DEFAULT_OPUS_MODEL: model,
    // No telemetry, error reports, auto-update, feedback or other calls home.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_BUG_COMMAND: '1',
    DISABLE_COST_WARNINGS: '1',
    DISABLE_NON_ESSENTIAL_MODEL_CALLS: '1',
    CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: '1',
    CLAUDE_CODE_DISABLE_TERMINAL_TITLE: '1',
    CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL: '1',
    CLAUDE_CODE_USE_BEDROCK: '', CLAUDE_CODE_USE_VERTEX: '',
    // One attempt: a refusal must surface, not be retried for a minute.
    CLAUDE_CODE_MAX_RETRIES: '0',
    API_TIMEOUT_MS: '30000',
    MAX_THINKING_TOKENS: '0',
  });
  const h = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  if (h) env.ANTHROPIC_CUSTOM_HEADERS = h;
  fs.mkdirSync(env.CLAUDE_CONFIG_DIR, { recursive: true });
  return env;
}

const tomlStr = (s) => JSON.stringify(String(s));   // a TOML basic string is a JSON string here

/**
 * Environment for `codex exec`, with CODEX_HOME/config.toml defining a model
 * provider "tollgate" at baseURL (with /v1) that speaks the Responses API.
 * The key travels in TOLLGATE_API_KEY (env_key).
 */
export function codexEnv({ home, baseURL, apiKey, headers = {}, model = 'gpt-5-codex' }) {
  const env = baseEnv(home);
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true });
  const hdrs = Object.entries(headers).map(([k, v]) => `${tomlStr(k)} = ${tomlStr(v)}`).join(', ');
  const toml = [
    `model = ${tomlStr(model)}`,
    'model_provider = "tollgate"',
    'approval_policy = "never"',
    'sandbox_mode = "read-only"',
    'check_for_update_on_startup = false',
    'hide_agent_reasoning = true',
    'model_reasoning_summary = "none"',
    '',
    '[model_providers.tollgate]',
    'name = "tollgate"',
    `base_url = ${tomlStr(baseURL)}`,
    'env_key = "TOLLGATE_API_KEY"',
    'wire_api = "responses"',
    `http_headers = { ${hdrs} }`,
    // One attempt each: a refusal must surface at once, not after backoff.
    'request_max_retries = 0',
    'stream_max_retries = 0',
    'stream_idle_timeout_ms = 30000',
    '',
    // The plugin marketplace syncs from github.com and chatgpt.com at start
    // (seen with strace: the only lookups of a run); nothing else goes out.
    '[features]',
    'plugins = false',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[feedback]',
    'enabled = false',
    '',
    '[otel]',
    'exporter = "none"',
    'log_user_prompt = false',
    '',
    '[history]',
    'persistence = "none"',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(codexHome, 'config.toml'), toml);
  Object.assign(env, { CODEX_HOME: codexHome, TOLLGATE_API_KEY: apiKey, RUST_LOG: 'error' });
  return env;
}

/** Run a binary with a timeout; resolves {code, signal, stdout, stderr, ms, timedOut}. */
export function run(bin, args, { env, cwd, timeoutMs = 60000, input } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(bin, args, { env, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    if (input !== undefined) child.stdin.end(input);
    // The agents start helpers of their own: kill the whole process group.
    const killAll = (sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
    const t = setTimeout(() => { timedOut = true; killAll('SIGTERM'); setTimeout(() => killAll('SIGKILL'), 2000).unref(); }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      killAll('SIGKILL');
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
    child.on('error', (e) => { clearTimeout(t); resolve({ code: -1, signal: null, stdout, stderr: String(e), ms: Date.now() - t0, timedOut }); });
  });
}

export function tempHome(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tg-e2e-${tag}-`));
}

// The agent's working directory, <home>/work, with the given files in it.
function workDir(home, files) {
  const cwd = path.join(home, 'work');
  fs.mkdirSync(cwd);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(cwd, name), text);
  return cwd;
}

/**
 * `claude -p PROMPT --output-format json` in a fresh temp HOME and working
 * directory.  Returns run()'s result plus `json` (the parsed result object,
 * or null) and `home` (removed unless keep).  `home` may be given (from
 * tempHome()) when the caller must know paths in advance: the working
 * directory is always <home>/work.
 */
export async function runClaude(prompt, { baseURL, apiKey, headers, model, timeoutMs = 60000, extraArgs = [], keep = false,
  maxTurns = 1, files = {}, home: given } = {}) {
  const home = given || tempHome('claude');
  try {
    const cwd = workDir(home, files);
    const env = claudeEnv({ home, baseURL, apiKey, headers, model });
    const r = await run(CLAUDE_BIN, ['-p', prompt, '--output-format', 'json', '--max-turns', String(maxTurns), ...extraArgs],
      { env, cwd, timeoutMs });
    let json = null;
    try { json = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { /* not JSON */ }
    return { ...r, json, home };
  } finally {
    if (!keep) fs.rmSync(home, { recursive: true, force: true });
  }
}

/**
 * `codex exec PROMPT` in a fresh temp HOME/CODEX_HOME and working directory
 * (read-only sandbox, no approvals).  The last agent message is written to a
 * file (-o) and returned as `last`.
 */
export async function runCodex(prompt, { baseURL, apiKey, headers, model, timeoutMs = 60000, extraArgs = [], keep = false,
  files = {}, home: given } = {}) {
  const home = given || tempHome('codex');
  const lastFile = path.join(home, 'last-message.txt');
  try {
    const cwd = workDir(home, files);
    const env = codexEnv({ home, baseURL, apiKey, headers, model });
    const r = await run(CODEX_BIN, ['exec', '--skip-git-repo-check', '--ephemeral', '--color', 'never',
      '-o', lastFile, ...extraArgs, prompt], { env, cwd, timeoutMs });
    const last = fs.existsSync(lastFile) ? fs.readFileSync(lastFile, 'utf8') : null;
    return { ...r, last, home };
  } finally {
    if (!keep) fs.rmSync(home, { recursive: true, force: true });
  }
}
