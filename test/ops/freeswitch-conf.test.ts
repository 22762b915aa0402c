// freeswitch-conf/ is the static bootstrap a stock FreeSWITCH needs to hand
// everything else to fs-tenantd. These checks keep it minimal, tenant-free and
// in step with the daemon's defaults (as FreeSWITCH's preprocessor would see it).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { create } from 'xmlbuilder2';
import { loadConfig } from '../../daemon/config.js';
import { projectRoot } from '../../daemon/paths.js';
import { parseFetch } from '../../xml-handlers/fetch-request.js';

const test = suite('freeswitch-conf bootstrap');
const root = path.join(projectRoot, 'freeswitch-conf');
const autoload = path.join(root, 'autoload_configs');
const read = (p: string) => readFileSync(p, 'utf8');

/**
 * FreeSWITCH's X-PRE-PROCESS "set" and "env-set" (src/switch_xml.c): set name=value;
 * env-set name=$VAR sets name only when VAR is in the environment. Then $${name} expands.
 */
function preprocessorVars(env: Record<string, string>, builtIn: Record<string, string> = {}): Map<string, string> {
  const vars = new Map<string, string>(Object.entries(builtIn));
  // Each line's $${name} is expanded before the line is run (expand_vars); an unknown name becomes "".
  const expand = (v: string) => v.replace(/\$\$\{([a-z0-9_]+)\}/g, (_all, n: string) => vars.get(n) ?? '');
  for (const m of read(path.join(root, 'vars.xml')).matchAll(
    /<X-PRE-PROCESS cmd="(set|env-set)" data="([^"=]+)=([^"]*)"\/>/g,
  )) {
    const [, cmd, name, value] = m as unknown as [string, string, string, string];
    if (cmd === 'set') vars.set(name.trim(), expand(value.trim()));
    else if (value.startsWith('$') && env[value.slice(1)] !== undefined) vars.set(name, env[value.slice(1)]!);
  }
  return vars;
}

function params(file: string, vars: Map<string, string>): Map<string, string> {
  return new Map(paramList(file, vars));
}

/** The values of one param, in order (both xml_curl bindings, both mod_json_cdr urls). */
const urls = (file: string, vars: Map<string, string>, name: string) =>
  paramList(file, vars)
    .filter(([k]) => k === name)
    .map(([, v]) => v);

/** Every <param> in order (mod_json_cdr takes `url` more than once). */
function paramList(file: string, vars: Map<string, string>): Array<[string, string]> {
  const text = read(path.join(autoload, file))
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\$\$\{([a-z0-9_]+)\}/g, (all, v: string) => vars.get(v) ?? all);
  return [...text.matchAll(/<param name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]);
}

test('only the bootstrap files the capture used, each well-formed and named for its configuration', () => {
  const files = readdirSync(autoload).sort();
  assert.equal(files, [
    'event_socket.conf.xml',
    'json_cdr.conf.xml',
    'logfile.conf.xml',
    'modules.conf.xml',
    'switch.conf.xml',
    'xml_curl.conf.xml',
  ]);
  for (const f of files) {
    const text = read(path.join(autoload, f));
    create(text); // throws on malformed XML
    assert.match(text, new RegExp(`^<configuration name="${f.replace('.xml', '').replace('.', '\\.')}"`), f);
  }
  create(read(path.join(root, 'freeswitch.xml')));
  create(`<root>${read(path.join(root, 'vars.xml'))}</root>`);
});

test('nothing tenant-specific and no local dialplan, directory or served configuration', () => {
  const all = [
    path.join(root, 'freeswitch.xml'),
    path.join(root, 'vars.xml'),
    ...readdirSync(autoload).map((f) => path.join(autoload, f)),
  ]
    .map(read)
    .join('\n');
  assert.not.match(all, /acme|globex|pbx\.test|\+1555/i);
  assert.not.match(all, /<section name="(dialplan|directory)"/);
  assert.not.match(all, /<configuration name="(sofia|acl|callcenter|local_stream)\.conf"/);
});

test('mod_xml_curl loads before every module whose configuration the daemon serves', () => {
  const modules = [...read(path.join(autoload, 'modules.conf.xml')).matchAll(/<load module="([a-z_0-9]+)"/g)].map(
    (m) => m[1]!,
  );
  const at = (m: string) => {
    const i = modules.indexOf(m);
    assert.ok(i >= 0, `${m} is loaded`);
    return i;
  };
  for (const m of ['mod_sofia', 'mod_callcenter', 'mod_event_socket', 'mod_local_stream'])
    assert.ok(at('mod_xml_curl') < at(m), `mod_xml_curl before ${m}`);
  for (const m of ['mod_dialplan_xml', 'mod_dptools', 'mod_commands', 'mod_tone_stream']) at(m);
  // Call records are the source of truth: a node without mod_json_cdr must not start.
  assert.match(read(path.join(autoload, 'modules.conf.xml')), /<load module="mod_json_cdr" critical="true"\/>/);
  assert.ok(at('mod_json_cdr') < at('mod_sofia'), 'mod_json_cdr before any call can start');
  assert.is(new Set(modules).size, modules.length, 'no module twice');
});

test('xml_curl binding and event socket match the daemon defaults (npm start works unchanged)', () => {
  const config = loadConfig({});
  const vars = preprocessorVars({});
  const curl = params('xml_curl.conf.xml', vars);
  const daemonUrl = `http://${config.http.host}:${config.http.port}${config.xmlCurl.path}`;
  // Two daemons asked in order (switch_xml_locate), each with a directory binding and a dialplan+configuration one;
  // by default both are the one daemon.
  assert.equal(urls('xml_curl.conf.xml', vars, 'gateway-url'), [daemonUrl, daemonUrl, daemonUrl, daemonUrl]);
  const list = paramList('xml_curl.conf.xml', vars);
  for (const name of ['gateway-credentials', 'auth-scheme', 'timeout'])
    assert.is(list.filter(([k]) => k === name).length, 4, `${name} in every binding`);
  // The directory bindings post only what parseDirectory reads (xml-handlers/fetch-request.ts), both alike.
  const postVars = list.filter(([k]) => k === 'enable-post-var').map(([, v]) => v);
  const directoryFields = [
    'action',
    'purpose',
    'key',
    'user',
    'domain',
    'sip_auth_method',
    'sip_to_host',
    'sip_from_host',
  ];
  assert.equal(postVars, [...directoryFields, ...directoryFields]);
  assert.is(curl.get('gateway-credentials'), `${config.xmlCurl.user}:${config.xmlCurl.password}`);
  assert.is(curl.get('auth-scheme'), 'basic');
  // Short: a hung first daemon holds each REGISTER or call set-up this long before the second binding answers.
  assert.match(curl.get('timeout') ?? '', /^[1-3]$/, 'a timeout of 1 to 3 whole seconds');
  // Every field parseFetch reads from a captured directory fetch is one the directory bindings post (or one
  // mod_xml_curl always sends): a field missing from the list would silently read as absent.
  const always = ['hostname', 'section', 'tag_name', 'key_name', 'key_value'];
  const captures = path.join(projectRoot, 'test', 'fixtures', 'freeswitch', 'xml-curl');
  const asked = new Set<string>();
  for (const f of readdirSync(captures).filter((n) => /-directory-.*\.body$/.test(n))) {
    const fields = new URLSearchParams(readFileSync(path.join(captures, f), 'latin1'));
    parseFetch({
      get: (name) => {
        asked.add(name);
        return fields.get(name) ?? undefined;
      },
    });
  }
  assert.equal(
    [...asked].filter((n) => !always.includes(n) && !directoryFields.includes(n)),
    [],
  );
  const raw = read(path.join(autoload, 'xml_curl.conf.xml'));
  assert.is(raw.match(/bindings="directory"/g)?.length, 2);
  assert.is(raw.match(/bindings="dialplan\|configuration"/g)?.length, 2);

  const esl = params('event_socket.conf.xml', vars);
  const node = config.esl.nodes[0]!;
  assert.equal(
    [esl.get('listen-ip'), esl.get('listen-port'), esl.get('password')],
    [node.host, String(node.port), node.password],
  );
  assert.is(esl.get('listen-ip'), '127.0.0.1', 'loopback only by default');
});

test('mod_json_cdr posts every A-leg record to the daemon: both urls, credentials, bounded retries, no memory queue', () => {
  const config = loadConfig({});
  const vars = preprocessorVars({}, { log_dir: '/var/log/freeswitch' });
  const list = paramList('json_cdr.conf.xml', vars);
  const cdr = new Map(list);
  const daemonUrl = `http://${config.http.host}:${config.http.port}${config.cdr.path}`;
  // Tried in turn (mod_json_cdr.c process_cdr): by default both are the one daemon.
  assert.equal(
    list.filter(([k]) => k === 'url').map(([, v]) => v),
    [daemonUrl, daemonUrl],
  );
  assert.is(cdr.get('cred'), `${config.xmlCurl.user}:${config.xmlCurl.password}`);
  assert.is(cdr.get('auth-scheme'), 'basic');
  // The module's defaults: no timeout at all, values URL-encoded, B-legs recorded too.
  assert.match(cdr.get('timeout') ?? '', /^[1-9]\d*$/, 'a timeout in whole seconds');
  assert.match(cdr.get('retries') ?? '', /^[1-9]\d*$/, 'retries');
  assert.match(cdr.get('delay') ?? '', /^[1-9]\d*$/, 'a delay (0 would become 5 s)');
  assert.equal(
    [cdr.get('encode'), cdr.get('encode-values'), cdr.get('log-b-leg'), cdr.get('prefix-a-leg')],
    ['false', 'false', 'false', 'false'],
  );
  assert.is(cdr.get('err-log-dir'), '/var/log/freeswitch/json_cdr');
  // A queue loses what it holds when the module unloads; disable-100-continue drops the Content-Type header.
  for (const absent of ['queue-capacity', 'disable-100-continue', 'log-dir', 'log-http-and-disk', 'rotate'])
    assert.not.ok(cdr.has(absent), absent);
  // Worst case a call's thread waits before its hangup is reported: every attempt timing out.
  const attempts = Number(cdr.get('retries')) + 1;
  assert.ok(attempts * Number(cdr.get('timeout')) + (attempts - 1) * Number(cdr.get('delay')) <= 30, 'bounded');
});

test('the same environment variables configure both sides', () => {
  const env = {
    FS_TENANTD_XMLCURL_USER: 'fs-node',
    FS_TENANTD_XMLCURL_PASSWORD: 'a-longer-secret',
    FS_TENANTD_ESL_PASSWORD: 'esl-secret',
    FS_TENANTD_XMLCURL_URL: 'http://10.1.2.3:9000/fs/xml',
    FS_TENANTD_XMLCURL_URL_2: 'http://10.1.2.5:9000/fs/xml',
    FS_TENANTD_ESL_LISTEN_IP: '10.1.2.4',
    FS_TENANTD_CDR_URL: 'http://10.1.2.3:9000/fs/cdr',
    FS_TENANTD_CDR_URL_2: 'http://10.1.2.5:9000/fs/cdr',
    FS_TENANTD_CDR_ERR_DIR: '/srv/cdr',
  };
  const config = loadConfig(env);
  const vars = preprocessorVars(env);
  assert.is(
    params('xml_curl.conf.xml', vars).get('gateway-credentials'),
    `${config.xmlCurl.user}:${config.xmlCurl.password}`,
  );
  // Each daemon's directory binding, then its dialplan+configuration one.
  assert.equal(urls('xml_curl.conf.xml', vars, 'gateway-url'), [
    'http://10.1.2.3:9000/fs/xml',
    'http://10.1.2.3:9000/fs/xml',
    'http://10.1.2.5:9000/fs/xml',
    'http://10.1.2.5:9000/fs/xml',
  ]);
  // Only the first set: the second follows it.
  assert.equal(
    urls('xml_curl.conf.xml', preprocessorVars({ FS_TENANTD_XMLCURL_URL: 'http://10.9.9.9/x' }), 'gateway-url'),
    Array(4).fill('http://10.9.9.9/x'),
  );
  assert.is(params('event_socket.conf.xml', vars).get('password'), config.esl.nodes[0]!.password);
  assert.is(params('event_socket.conf.xml', vars).get('listen-ip'), '10.1.2.4');
  assert.is(params('json_cdr.conf.xml', vars).get('cred'), `${config.xmlCurl.user}:${config.xmlCurl.password}`);
  assert.equal(
    paramList('json_cdr.conf.xml', vars)
      .filter(([k]) => k === 'url')
      .map(([, v]) => v),
    ['http://10.1.2.3:9000/fs/cdr', 'http://10.1.2.5:9000/fs/cdr'],
  );
  assert.is(params('json_cdr.conf.xml', vars).get('err-log-dir'), '/srv/cdr');
  // Only the first set: the second follows it.
  const one = preprocessorVars({ FS_TENANTD_CDR_URL: 'http://10.9.9.9/c' });
  assert.equal(
    paramList('json_cdr.conf.xml', one)
      .filter(([k]) => k === 'url')
      .map(([, v]) => v),
    ['http://10.9.9.9/c', 'http://10.9.9.9/c'],
  );
});

test('every $${variable} is defined in vars.xml or built into FreeSWITCH', () => {
  const builtIn = new Set(['sounds_dir', 'log_dir', 'conf_dir', 'base_dir']);
  const vars = preprocessorVars({});
  const used = readdirSync(autoload).flatMap((f) =>
    [...read(path.join(autoload, f)).matchAll(/\$\$\{([a-z0-9_]+)\}/g)].map((m) => m[1]!),
  );
  assert.ok(used.length > 5);
  assert.equal(
    used.filter((v) => !vars.has(v) && !builtIn.has(v)),
    [],
  );
});

test.run();
