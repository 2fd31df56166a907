/**
 * The nginx directives Fulcrum reads: where each may stand, how many arguments it takes, and whether it
 * may repeat. Checked as `nginx -t` checks them (contexts and counts from the nginx documentation), before
 * any translation. Directives that change nothing for a proxy are accepted and listed in one warning;
 * directives nginx has but Fulcrum does not honour get a message saying so.
 */

/** Where a directive stands. `stream-*` are the blocks of the same name inside `stream {}`. */
export type Context =
  | 'main' | 'events' | 'http' | 'server' | 'location' | 'upstream' | 'types'
  | 'stream' | 'stream-server' | 'stream-upstream'

export interface Spec {
  contexts: readonly Context[]
  /** Fewest and most arguments. */
  args: readonly [number, number]
  /** For block directives: the context inside the block. */
  block?: Context
  /** `on` or `off`. */
  flag?: boolean
  /** May appear more than once in one block (nginx: "directive is duplicate" otherwise). */
  multi?: boolean
  /** How to write it, for messages. */
  usage: string
  /** Accepted, but changes nothing in Fulcrum: listed in the one warning. */
  noEffect?: boolean
}

const HTTP3: readonly Context[] = ['http', 'server', 'location']
const HTTP2: readonly Context[] = ['http', 'server']
const ANY: readonly Context[] = ['main', 'events', 'http', 'server', 'location', 'upstream', 'types', 'stream', 'stream-server', 'stream-upstream']
const MANY = Infinity

const spec = (contexts: readonly Context[], min: number, max: number, usage: string, extra: Partial<Spec> = {}): Spec =>
  ({ contexts, args: [min, max], usage, ...extra })
const flag = (contexts: readonly Context[], name: string, extra: Partial<Spec> = {}): Spec =>
  ({ contexts, args: [1, 1], flag: true, usage: `${name} on | off`, ...extra })

/** Known directives; a name with several entries means different things in different contexts. */
export const DIRECTIVES: Record<string, Spec | Spec[]> = {
  // Main context.
  events: spec(['main'], 0, 0, 'events { … }', { block: 'events' }),
  http: spec(['main'], 0, 0, 'http { … }', { block: 'http' }),
  stream: spec(['main'], 0, 0, 'stream { … }', { block: 'stream' }),
  worker_processes: spec(['main'], 1, 1, 'worker_processes NUMBER | auto'),
  // Fulcrum logs to stdout and writes no pid file.
  error_log: spec(['main', 'http', 'server', 'location', 'stream', 'stream-server'], 1, MANY, 'error_log FILE [LEVEL]', { multi: true, noEffect: true }),
  pid: spec(['main'], 1, 1, 'pid FILE', { noEffect: true }),
  include: spec(ANY, 1, 1, 'include FILE | GLOB', { multi: true }),

  // http: servers, locations, upstreams.
  upstream: [
    spec(['http'], 1, 1, 'upstream NAME { server ADDRESS; … }', { block: 'upstream', multi: true }),
    spec(['stream'], 1, 1, 'upstream NAME { server ADDRESS; … }', { block: 'stream-upstream', multi: true }),
  ],
  server: [
    spec(['http'], 0, 0, 'server { listen …; location … }', { block: 'server', multi: true }),
    spec(['upstream'], 1, MANY, 'server ADDRESS [weight=N] [max_fails=N] [fail_timeout=TIME] [max_conns=N] [backup] [down]', { multi: true }),
    spec(['stream'], 0, 0, 'server { listen PORT; proxy_pass NAME; }', { block: 'stream-server', multi: true }),
    spec(['stream-upstream'], 1, MANY, 'server ADDRESS [weight=N] [max_fails=N] [fail_timeout=TIME] [max_conns=N] [backup] [down]', { multi: true }),
  ],
  location: spec(['server', 'location'], 1, 2, 'location [ = | ^~ | ~ | ~* ] URI { … }', { block: 'location', multi: true }),
  listen: [
    spec(['server'], 1, MANY, 'listen [ADDRESS:]PORT [default_server] [ssl] [http2]', { multi: true }),
    spec(['stream-server'], 1, MANY, 'listen [ADDRESS:]PORT [udp] [proxy_protocol] [reuseport]', { multi: true }),
  ],
  server_name: [
    spec(['server'], 1, MANY, 'server_name NAME …', { multi: true }),
    // nginx 1.25.5: servers of a stream port chosen by SNI. stream.ts says to use a map instead.
    spec(['stream-server'], 1, MANY, 'server_name NAME …', { multi: true }),
  ],
  // The block holds "value result;" pairs, not directives: read as a types block is (no checks inside), by
  // stream-targets.ts in stream; in http Fulcrum has no variables, which translate.ts reports.
  map: spec(['http', 'stream'], 2, 2, 'map $SOURCE $VARIABLE { VALUE RESULT; … }', { block: 'types', multi: true }),

  // Upstream balancing.
  least_conn: spec(['upstream', 'stream-upstream'], 0, 0, 'least_conn'),
  ip_hash: spec(['upstream'], 0, 0, 'ip_hash'),
  hash: spec(['upstream', 'stream-upstream'], 1, 2, 'hash KEY [consistent]'),
  random: spec(['upstream', 'stream-upstream'], 0, 2, 'random [two [least_conn]]'),
  // Fulcrum pools connections to each target by itself; whether they are reused follows the Connection header sent.
  keepalive: spec(['upstream'], 1, 1, 'keepalive CONNECTIONS', { noEffect: true }),

  // Proxying.
  proxy_pass: [
    spec(['location'], 1, 1, 'proxy_pass http://UPSTREAM[/URI]'),
    spec(['stream-server'], 1, 1, 'proxy_pass UPSTREAM | HOST:PORT'),
  ],
  proxy_set_header: spec(HTTP3, 2, 2, 'proxy_set_header NAME VALUE', { multi: true }),
  proxy_pass_request_headers: flag(HTTP3, 'proxy_pass_request_headers'),
  proxy_next_upstream: [
    spec(HTTP3, 1, MANY, 'proxy_next_upstream error | timeout | invalid_header | http_500 | http_502 | http_503 | http_504 | http_403 | http_404 | http_429 | non_idempotent | off …'),
    flag(['stream', 'stream-server'], 'proxy_next_upstream'),
  ],
  proxy_next_upstream_tries: spec([...HTTP3, 'stream', 'stream-server'], 1, 1, 'proxy_next_upstream_tries NUMBER'),
  proxy_next_upstream_timeout: spec([...HTTP3, 'stream', 'stream-server'], 1, 1, 'proxy_next_upstream_timeout TIME'),
  proxy_connect_timeout: spec([...HTTP3, 'stream', 'stream-server'], 1, 1, 'proxy_connect_timeout TIME'),
  proxy_read_timeout: spec(HTTP3, 1, 1, 'proxy_read_timeout TIME'),
  // No counterpart yet: a target that stops reading the request body is bounded by the response timeouts.
  proxy_send_timeout: spec(HTTP3, 1, 1, 'proxy_send_timeout TIME', { noEffect: true }),
  proxy_timeout: spec(['stream', 'stream-server'], 1, 1, 'proxy_timeout TIME'),
  proxy_protocol: flag(['stream', 'stream-server'], 'proxy_protocol'),
  proxy_protocol_timeout: spec(['stream', 'stream-server'], 1, 1, 'proxy_protocol_timeout TIME'),
  preread_timeout: spec(['stream', 'stream-server'], 1, 1, 'preread_timeout TIME'),
  ssl_preread: flag(['stream', 'stream-server'], 'ssl_preread'),
  // Read by stream.ts, which says what Fulcrum cannot do (rates other than 0, TLS to targets, session counts).
  proxy_responses: spec(['stream', 'stream-server'], 1, 1, 'proxy_responses NUMBER'),
  proxy_requests: spec(['stream', 'stream-server'], 1, 1, 'proxy_requests NUMBER'),
  proxy_download_rate: spec(['stream', 'stream-server'], 1, 1, 'proxy_download_rate RATE'),
  proxy_upload_rate: spec(['stream', 'stream-server'], 1, 1, 'proxy_upload_rate RATE'),
  proxy_ssl: flag(['stream', 'stream-server'], 'proxy_ssl'),
  pass: spec(['stream-server'], 1, 1, 'pass ADDRESS'),
  proxy_http_version: spec(HTTP3, 1, 1, 'proxy_http_version 1.0 | 1.1'),
  proxy_redirect: spec(HTTP3, 1, 2, 'proxy_redirect off', { multi: true }),

  // Answers and response headers.
  return: [
    spec(['server', 'location'], 1, 2, 'return CODE [TEXT] | CODE URL | URL'),
    spec(['stream-server'], 1, 1, 'return VALUE'),
  ],
  add_header: spec(HTTP3, 2, 3, 'add_header NAME VALUE [always]', { multi: true }),
  default_type: spec(HTTP3, 1, 1, 'default_type MIME-TYPE'),

  // Client side.
  client_max_body_size: spec(HTTP3, 1, 1, 'client_max_body_size SIZE'),
  keepalive_timeout: [
    spec(HTTP3, 1, 2, 'keepalive_timeout TIME [HEADER-TIME]'),
    spec(['upstream'], 1, 1, 'keepalive_timeout TIME'),
  ],
  client_header_timeout: spec(HTTP2, 1, 1, 'client_header_timeout TIME'),
  allow: spec([...HTTP3, 'stream', 'stream-server'], 1, 1, 'allow ADDRESS | CIDR | all', { multi: true }),
  deny: spec([...HTTP3, 'stream', 'stream-server'], 1, 1, 'deny ADDRESS | CIDR | all', { multi: true }),
  client_body_timeout: spec(HTTP3, 1, 1, 'client_body_timeout TIME'),
  large_client_header_buffers: spec(HTTP2, 2, 2, 'large_client_header_buffers NUMBER SIZE'),

  // Rate and connection limits, the real IP: read by protection.ts (stream's limit_conn by stream.ts).
  limit_req_zone: spec(['http'], 3, 3, 'limit_req_zone KEY zone=NAME:SIZE rate=RATE', { multi: true }),
  limit_req: spec(HTTP3, 1, 3, 'limit_req zone=NAME [burst=N] [nodelay | delay=N]', { multi: true }),
  limit_req_status: spec(HTTP3, 1, 1, 'limit_req_status CODE'),
  limit_req_log_level: spec(HTTP3, 1, 1, 'limit_req_log_level info | notice | warn | error', { noEffect: true }),
  limit_req_dry_run: flag(HTTP3, 'limit_req_dry_run'),
  limit_conn_zone: spec(['http', 'stream'], 2, 2, 'limit_conn_zone KEY zone=NAME:SIZE', { multi: true }),
  limit_conn: spec([...HTTP3, 'stream', 'stream-server'], 2, 2, 'limit_conn ZONE NUMBER', { multi: true }),
  limit_conn_status: spec(HTTP3, 1, 1, 'limit_conn_status CODE'),
  limit_conn_log_level: spec([...HTTP3, 'stream', 'stream-server'], 1, 1, 'limit_conn_log_level info | notice | warn | error', { noEffect: true }),
  limit_conn_dry_run: flag([...HTTP3, 'stream', 'stream-server'], 'limit_conn_dry_run'),
  set_real_ip_from: spec([...HTTP3, 'stream', 'stream-server'], 1, 1, 'set_real_ip_from ADDRESS | CIDR', { multi: true }),
  real_ip_header: spec(HTTP3, 1, 1, 'real_ip_header X-Forwarded-For | proxy_protocol'),
  real_ip_recursive: flag(HTTP3, 'real_ip_recursive'),

  // TLS: checked as nginx checks them (tls.ts), then mapped onto https listeners (listen … ssl).
  ssl_certificate: spec([...HTTP2, 'stream', 'stream-server'], 1, 1, 'ssl_certificate FILE', { multi: true }),
  ssl_certificate_key: spec([...HTTP2, 'stream', 'stream-server'], 1, 1, 'ssl_certificate_key FILE', { multi: true }),
  ssl_protocols: spec([...HTTP2, 'stream', 'stream-server'], 1, MANY, 'ssl_protocols [TLSv1.2] [TLSv1.3]'),
  http2: flag(HTTP2, 'http2'),
  proxy_ssl_verify: [flag(HTTP3, 'proxy_ssl_verify'), flag(['stream', 'stream-server'], 'proxy_ssl_verify', { noEffect: true })],

  // Logs.
  access_log: spec([...HTTP3, 'stream', 'stream-server'], 1, MANY, 'access_log PATH [FORMAT] | off', { multi: true }),
  log_format: spec(['http', 'stream'], 2, MANY, 'log_format NAME [escape=default|json|none] STRING …', { multi: true }),
}

/** Of those below, the ones nginx reads as on/off. */
const FLAGS = new Set(('daemon master_process pcre_jit multi_accept accept_mutex sendfile tcp_nopush tcp_nodelay etag gzip gzip_vary '
  + 'proxy_buffering proxy_request_buffering proxy_socket_keepalive proxy_ignore_client_abort reset_timedout_connection autoindex '
  + 'log_not_found log_subrequest port_in_redirect server_name_in_redirect msie_padding msie_refresh http2 '
  + 'ssl_prefer_server_ciphers ssl_session_tickets ssl_stapling ssl_stapling_verify ssl_early_data proxy_half_close').split(' '))

/** Changes nothing for a proxy, or has no counterpart to set: accepted, named in one warning. */
const NO_EFFECT: Record<string, Spec[]> = {}
for (const [names, contexts, min, max] of [
  // Process and event loop tuning.
  ['user', ['main'], 1, 2],
  ['worker_rlimit_nofile worker_priority worker_cpu_affinity worker_shutdown_timeout timer_resolution working_directory lock_file pcre_jit thread_pool worker_rlimit_core', ['main'], 1, MANY],
  ['daemon master_process', ['main'], 1, 1],
  ['load_module env', ['main'], 1, 1],
  ['worker_connections use multi_accept accept_mutex accept_mutex_delay worker_aio_requests', ['events'], 1, 1],
  // Static files, MIME types, compression and buffers.
  ['sendfile tcp_nopush tcp_nodelay sendfile_max_chunk aio directio output_buffers postpone_output', HTTP3, 1, 2],
  ['types', HTTP3, 0, 0],
  ['root index autoindex etag if_modified_since', HTTP3, 1, MANY],
  ['gzip gzip_vary gzip_proxied gzip_comp_level gzip_buffers gzip_http_version gzip_min_length gzip_types gzip_disable gzip_static', HTTP3, 1, MANY],
  ['charset charset_types source_charset override_charset', HTTP3, 1, MANY],
  ['server_tokens msie_padding msie_refresh server_name_in_redirect port_in_redirect log_not_found log_subrequest open_file_cache open_file_cache_valid open_file_cache_min_uses open_file_cache_errors open_log_file_cache', HTTP3, 1, MANY],
  ['types_hash_max_size types_hash_bucket_size server_names_hash_max_size server_names_hash_bucket_size variables_hash_max_size variables_hash_bucket_size map_hash_max_size map_hash_bucket_size proxy_headers_hash_max_size proxy_headers_hash_bucket_size', HTTP3, 1, 1],
  ['proxy_buffering proxy_buffer_size proxy_buffers proxy_busy_buffers_size proxy_request_buffering proxy_max_temp_file_size proxy_temp_file_write_size proxy_temp_path client_body_temp_path proxy_socket_keepalive proxy_ignore_client_abort', HTTP3, 1, MANY],
  ['client_body_buffer_size client_header_buffer_size client_body_in_file_only client_body_in_single_buffer connection_pool_size request_pool_size', HTTP3, 1, 2],
  ['send_timeout send_lowat reset_timedout_connection lingering_close lingering_time lingering_timeout keepalive_requests keepalive_time keepalive_disable resolver resolver_timeout', HTTP3, 1, MANY],
  ['http2_max_concurrent_streams http2_recv_buffer_size http2_chunk_size', HTTP3, 1, 1],
  ['ssl_ciphers ssl_prefer_server_ciphers ssl_session_cache ssl_session_timeout ssl_session_tickets ssl_dhparam ssl_ecdh_curve ssl_stapling ssl_stapling_verify ssl_buffer_size ssl_early_data', [...HTTP2, 'stream', 'stream-server'], 1, MANY],
  ['zone', ['upstream', 'stream-upstream'], 1, 2],
  // stream: buffers, socket options and lookups. Fulcrum relays both halves of a TCP close on its own
  // (proxy_half_close on); resolver serves only proxy_pass with variables, which Fulcrum does not take.
  ['tcp_nodelay proxy_buffer_size preread_buffer_size proxy_socket_keepalive proxy_half_close resolver_timeout', ['stream', 'stream-server'], 1, 1],
  ['resolver', ['stream', 'stream-server'], 1, MANY],
  ['variables_hash_max_size variables_hash_bucket_size map_hash_max_size map_hash_bucket_size', ['stream'], 1, 1],
  ['keepalive_requests keepalive_time', ['upstream'], 1, 1],
] as const) {
  for (const name of names.split(' ')) {
    const entry = FLAGS.has(name)
      ? flag(contexts, name, { noEffect: true })
      : spec(contexts, min, max, `${name} …`, { noEffect: true, multi: true, ...(name === 'types' ? { block: 'types' as const } : {}) })
    NO_EFFECT[name] = [...(NO_EFFECT[name] ?? []), entry]
  }
}
// A name listed in both tables keeps the translated meaning where it has one (keepalive_timeout in upstream).
for (const [name, entries] of Object.entries(NO_EFFECT)) {
  const known = DIRECTIVES[name]
  DIRECTIVES[name] = known === undefined ? entries : [...(Array.isArray(known) ? known : [known]), ...entries]
}

/**
 * nginx directives Fulcrum does not honour, with what to do instead: reported as errors, since ignoring
 * them would change what clients get.
 */
const FILES = 'Fulcrum does not serve files; proxy the location or "return" an answer'
const CACHE = 'Fulcrum does not cache responses'
const AUTH = 'put authentication in the application'
const OTHER_PASS = 'only HTTP targets are supported; use proxy_pass http://'
export const UNSUPPORTED: Record<string, string> = {
  if: 'split the cases into locations or server blocks',
  rewrite: 'use proxy_pass with a URI part (location /old/ { proxy_pass http://backend/new/; }) or "return 301 URL"',
  set: 'Fulcrum has no variables of its own',
  map: 'Fulcrum has no variables of its own',
  geo: 'Fulcrum has no variables of its own',
  split_clients: 'use weighted forwarding in YAML ({ blue: 90, green: 10 })',
  try_files: FILES,
  alias: FILES,
  error_page: 'Fulcrum answers its own errors with nginx\'s pages and passes the targets\' as they are',
  limit_except: 'answer 405 in the application',
  internal: 'internal locations serve only try_files and error_page, which Fulcrum does not have',
  proxy_cache: CACHE,
  proxy_cache_path: CACHE,
  proxy_cache_valid: CACHE,
  proxy_cache_key: CACHE,
  proxy_hide_header: 'response headers pass unchanged',
  proxy_pass_header: 'response headers pass unchanged',
  proxy_ignore_headers: 'Fulcrum does not act on X-Accel-* or caching headers',
  proxy_intercept_errors: 'the targets\' error responses pass unchanged',
  proxy_set_body: 'the request body passes unchanged',
  proxy_pass_request_body: 'the request body is always passed',
  proxy_cookie_domain: 'cookies pass unchanged',
  proxy_cookie_path: 'cookies pass unchanged',
  proxy_ssl_certificate: 'client certificates to targets are not supported yet',
  proxy_ssl_trusted_certificate: 'set the CA file as tls.ca on the target group in YAML (with proxy_ssl_verify on, Fulcrum verifies against the system CAs)',
  proxy_ssl_name: 'Fulcrum sends the target\'s host as SNI; set another name with tls.serverName on the target group in YAML',
  proxy_ssl_server_name: 'Fulcrum sends the target\'s host as SNI; set another name with tls.serverName on the target group in YAML',
  proxy_bind: 'the system picks the source address',
  limit_rate: 'responses are sent as fast as the client reads them',
  auth_basic: AUTH,
  auth_basic_user_file: AUTH,
  auth_request: AUTH,
  satisfy: AUTH,
  ssl_client_certificate: 'client certificates (mutual TLS) are not supported yet',
  ssl_verify_client: 'client certificates (mutual TLS) are not supported yet',
  sub_filter: 'response bodies pass unchanged',
  expires: 'use add_header Cache-Control …',
  mirror: 'send copies from the application',
  grpc_pass: OTHER_PASS,
  fastcgi_pass: OTHER_PASS,
  uwsgi_pass: OTHER_PASS,
  scgi_pass: OTHER_PASS,
  memcached_pass: OTHER_PASS,
  health_check: 'it is NGINX Plus; write an active healthCheck in YAML',
  sticky: 'it is NGINX Plus; use stickiness in YAML',
  mail: 'Fulcrum proxies HTTP only',
}
for (const name of 'js_import js_include js_path js_set js_var js_preload_object js_shared_dict_zone js_access js_preread js_filter js_content js_header_filter js_body_filter js_fetch_trusted_certificate'.split(' ')) {
  UNSUPPORTED[name] = 'njs scripts cannot run in Fulcrum; do the work in the application or a target'
}

/** Specs of `name` that apply in `context`, and all its specs (for the "allowed in" hint). */
export function specsOf(name: string): Spec[] {
  const found = Object.hasOwn(DIRECTIVES, name) ? DIRECTIVES[name] : undefined
  if (found === undefined) return []
  return Array.isArray(found) ? found : [found]
}

/** Every name the table knows, for "did you mean". */
export function knownNames(): string[] {
  return [...Object.keys(DIRECTIVES), ...Object.keys(UNSUPPORTED)]
}

/** How a context is named in messages. */
export function contextName(context: Context): string {
  switch (context) {
    case 'main': return 'the top level'
    case 'stream-server': return '"server" in "stream"'
    case 'stream-upstream': return '"upstream" in "stream"'
    default: return `"${context}"`
  }
}
