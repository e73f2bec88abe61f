#!/usr/bin/env python3
"""GET /openapi.json matches the router and is well-formed OpenAPI 3.1.

Usage: test_openapi.py BUILD/feedbackd

1. The served document is docs/openapi.json byte for byte (embedded at build
   time), as application/json, without auth.
2. Structure, checked with the standard library only: openapi "3.1.x", info,
   paths; every $ref resolves; path templates and path parameters agree;
   every operation has responses with descriptions, a unique operationId and
   security that names a defined scheme; errors are problem+json; /v1
   operations need a key and document 401, the operations endpoints need none.
3. Routes: the (method, path) pairs of api_routes in src/api/routes.c and of
   the document are the same set; a difference is printed as a diff. The
   running binary agrees too (OPTIONS on every documented path lists its
   methods in Allow).
4. Query parameters: for every GET operation, each documented parameter is
   accepted (not 400/422) and an undocumented one is refused with 422.
5. Shapes: the document's own examples validate against their schemas, and
   real replies of every operation the binary serves validate against the
   documented response schemas (a small JSON Schema subset, stdlib only:
   $ref, type, enum, const, required, properties, additionalProperties,
   items, oneOf, allOf, bounds).
"""
import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BINARY = os.path.abspath(sys.argv[1])
SRC = Path(__file__).resolve().parents[2]
DOC_PATH = SRC / 'docs' / 'openapi.json'
ROUTES_C = SRC / 'src' / 'api' / 'routes.c'
KEYS = {'ingest': 'ik', 'read': 'rk', 'admin': 'ak'}
METHODS = {'get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'}
OPS_PATHS = {'/healthz', '/readyz', '/metrics', '/openapi.json'}
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f'FAIL: {what}', file=sys.stderr)
    return cond


class Server:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='feedbackd-openapi-')
        env = dict(os.environ)
        env.update({'FEEDBACKD_HOST': '127.0.0.1', 'FEEDBACKD_PORT': '0',
                    'FEEDBACKD_DB': os.path.join(self.tmp.name, 'data', 'f.db'),
                    'FEEDBACKD_API_KEYS': ','.join(f'{s}:{k}' for s, k in KEYS.items())})
        self.log_path = os.path.join(self.tmp.name, 'stderr.log')
        self.log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen([BINARY], cwd=self.tmp.name, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 20
        self.port = None
        while self.port is None and time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                for line in f:
                    m = re.search(r'listening on [^ ]*:(\d+)', line)
                    if m:
                        self.port = int(m.group(1))
            time.sleep(0.05)
        if self.port is None:
            self.proc.kill()
            sys.exit(f'the server did not start:\n{open(self.log_path).read()}')

    def request(self, method, path, key=None, body=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        headers = {'Authorization': f'Bearer {KEYS[key]}'} if key else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, r.headers, r.read()
        finally:
            conn.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = 'timeout'
        self.log.close()
        check(rc == 0, f'exit code after SIGTERM is {rc}')
        self.tmp.cleanup()


# ---- structure -----------------------------------------------------------------

def resolve_pointer(doc, ref):
    if not ref.startswith('#'):
        return None, f'external $ref {ref!r} (the document must be self-contained)'
    node = doc
    for part in ref[1:].split('/')[1:]:
        part = part.replace('~1', '/').replace('~0', '~')
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None, f'$ref {ref!r} does not resolve'
    return node, None


def deref(doc, node, depth=0):
    while isinstance(node, dict) and '$ref' in node and depth < 20:
        node, err = resolve_pointer(doc, node['$ref'])
        if err:
            return None
        depth += 1
    return node


def walk_refs(doc, node, where='#'):
    if isinstance(node, dict):
        if '$ref' in node:
            ref = node['$ref']
            check(isinstance(ref, str), f'{where}: $ref is not a string')
            if isinstance(ref, str):
                _, err = resolve_pointer(doc, ref)
                check(err is None, f'{where}: {err}')
        for k, v in node.items():
            walk_refs(doc, v, f'{where}/{k}')
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(doc, v, f'{where}/{i}')


def check_structure(doc):
    check(isinstance(doc, dict), 'the document is not a JSON object')
    check(re.fullmatch(r'3\.1\.\d+', str(doc.get('openapi', ''))), f'openapi is {doc.get("openapi")!r}, want "3.1.x"')
    info = doc.get('info', {})
    check(isinstance(info.get('title'), str) and isinstance(info.get('version'), str), 'info.title and info.version')
    check(isinstance(doc.get('paths'), dict) and doc['paths'], 'paths missing or empty')
    walk_refs(doc, doc)
    schemes = doc.get('components', {}).get('securitySchemes', {})
    check(schemes.get('bearer', {}).get('scheme') == 'bearer', 'securitySchemes.bearer (http bearer)')
    for req in doc.get('security', []):
        for name in req:
            check(name in schemes, f'top-level security names unknown scheme {name}')
    op_ids = set()
    for path, item in doc.get('paths', {}).items():
        check(path.startswith('/'), f'path {path!r} does not start with /')
        template = set(re.findall(r'\{([^}]+)\}', path))
        path_level = [deref(doc, p) for p in item.get('parameters', [])]
        for method, op in item.items():
            if method in ('parameters', 'summary', 'description', 'servers'):
                continue
            where = f'{method.upper()} {path}'
            if not check(method in METHODS, f'{where}: unknown method key'):
                continue
            oid = op.get('operationId')
            check(isinstance(oid, str) and oid not in op_ids, f'{where}: operationId missing or repeated')
            op_ids.add(oid)
            params = path_level + [deref(doc, p) for p in op.get('parameters', [])]
            for p in params:
                check(isinstance(p, dict) and p.get('in') in ('query', 'header', 'path', 'cookie')
                      and isinstance(p.get('name'), str) and ('schema' in p or 'content' in p),
                      f'{where}: malformed parameter {p!r:.80}')
            declared = {p['name'] for p in params if isinstance(p, dict) and p.get('in') == 'path'}
            check(declared == template, f'{where}: path parameters {sorted(declared)} != template {sorted(template)}')
            for p in params:
                if isinstance(p, dict) and p.get('in') == 'path':
                    check(p.get('required') is True, f'{where}: path parameter {p.get("name")} not required')
            responses = op.get('responses')
            if not check(isinstance(responses, dict) and responses, f'{where}: no responses'):
                continue
            for code, resp in responses.items():
                check(re.fullmatch(r'[1-5](\d\d|XX)', code) or code == 'default', f'{where}: response key {code!r}')
                resp = deref(doc, resp)
                check(isinstance(resp, dict) and isinstance(resp.get('description'), str),
                      f'{where} {code}: response without description')
                if isinstance(resp, dict) and code[0] in '45':
                    check(list(resp.get('content', {})) == ['application/problem+json'],
                          f'{where} {code}: errors are application/problem+json')
            security = op.get('security', doc.get('security'))
            for req in security or []:
                for name in req:
                    check(name in schemes, f'{where}: security names unknown scheme {name}')
            if path.startswith('/v1/'):
                check(bool(security) and all(req for req in security), f'{where}: needs a key but security is empty')
                check('401' in responses and '403' in responses, f'{where}: 401/403 not documented')
                check(re.search(r'Scope: `(ingest|read|admin)`', op.get('description', '')),
                      f'{where}: the scope is not named in the description')
            if path in OPS_PATHS:
                check(security == [], f'{where}: operations endpoints are served without auth (security: [])')
            if method == 'post':
                body = op.get('requestBody', {})
                check('application/json' in body.get('content', {}), f'{where}: no application/json request body')
                for code in ('400', '413', '415', '422'):
                    check(code in responses, f'{where}: {code} not documented')


# ---- routes ----------------------------------------------------------------------

def normalize(path):
    return re.sub(r'\{[^}]+\}', '{}', path)


def router_routes():
    text = ROUTES_C.read_text(encoding='utf-8')
    body = text[text.index('api_routes[]'):]
    body = body[:body.index('};')]
    return {(m, p) for m, p in re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"', body)}


def doc_routes(doc):
    return {(m.upper(), p) for p, item in doc['paths'].items() for m in item if m in METHODS}


def check_routes(doc, srv):
    router = router_routes()
    documented = doc_routes(doc)
    check(len(router) >= 8, f'parsed only {len(router)} routes from {ROUTES_C}')
    r_norm = {(m, normalize(p)): p for m, p in router}
    d_norm = {(m, normalize(p)): p for m, p in documented}
    only_router = sorted(f'{m} {r_norm[(m, p)]}' for m, p in set(r_norm) - set(d_norm))
    only_doc = sorted(f'{m} {d_norm[(m, p)]}' for m, p in set(d_norm) - set(r_norm))
    if only_router or only_doc:
        lines = ['the router (src/api/routes.c) and docs/openapi.json disagree:']
        lines += [f'  + {r}   (in the router, missing from docs/openapi.json)' for r in only_router]
        lines += [f'  - {r}   (in docs/openapi.json, no such route in the router)' for r in only_doc]
        check(False, '\n'.join(lines))
    # The running binary: every documented path exists with its methods.
    for path, item in doc['paths'].items():
        concrete = re.sub(r'\{[^}]+\}', 'x-1', path)
        status, headers, _ = srv.request('OPTIONS', concrete)
        allow = {m.strip() for m in headers.get('Allow', '').split(',') if m.strip()}
        want = {m.upper() for m in item if m in METHODS}
        check(status != 404 and want <= allow,
              f'the binary does not serve {sorted(want - allow)} {path} (OPTIONS -> {status}, Allow: {sorted(allow)})')


# ---- query parameters ------------------------------------------------------------

def sample_value(doc, schema):
    schema = deref(doc, schema) or {}
    if 'enum' in schema:
        return str(schema['enum'][0])
    t = schema.get('type')
    if t == 'integer':
        return str(schema.get('default', schema.get('minimum', 1)))
    if t == 'boolean':
        return 'true'
    if schema.get('format') == 'date-time':
        return '2026-01-01T00:00:00Z'
    return 'x-1'


def check_query_params(doc, srv):
    for path, item in doc['paths'].items():
        op = item.get('get')
        if not op or not path.startswith('/v1/'):
            continue
        params = [deref(doc, p) for p in op.get('parameters', [])]
        query = [p for p in params if p.get('in') == 'query']
        if not query or '{' in path:
            continue
        status, _, _ = srv.request('OPTIONS', path)
        if status == 404:
            continue  # reported by check_routes
        required = {p['name']: sample_value(doc, p['schema']) for p in query if p.get('required')}
        names = {p['name'] for p in query}
        if {'since', 'until'} <= names:
            # both ends, so that no default end can fall before a given start
            required.update(since='2026-01-01T00:00:00Z', until='2026-02-01T00:00:00Z')
        for p in query:
            args = dict(required)
            if p['name'] == 'cursor':
                continue  # only values the server handed out are valid
            args[p['name']] = sample_value(doc, p['schema'])
            if p['name'] == 'until':
                args['since'] = '2025-12-01T00:00:00Z'
            qs = '&'.join(f'{k}={v}' for k, v in args.items())
            status, _, body = srv.request('GET', f'{path}?{qs}', key='read')
            check(status == 200, f'GET {path}?{qs} -> {status}: documented parameter {p["name"]!r} refused? {body[:300]!r}')
        qs = '&'.join(f'{k}={v}' for k, v in required.items())
        status, _, _ = srv.request('GET', f'{path}?{qs}{"&" if qs else ""}not_a_parameter=1', key='read')
        check(status == 422, f'GET {path} with an undocumented parameter -> {status}, want 422')


# ---- shapes ------------------------------------------------------------------------

JSON_TYPES = {
    'object': lambda v: isinstance(v, dict),
    'array': lambda v: isinstance(v, list),
    'string': lambda v: isinstance(v, str),
    'boolean': lambda v: isinstance(v, bool),
    'null': lambda v: v is None,
    'integer': lambda v: isinstance(v, int) and not isinstance(v, bool)
    or isinstance(v, float) and v.is_integer(),
    'number': lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
}


def schema_errors(doc, schema, value, where='$'):
    """Errors of value against schema (the subset of JSON Schema 2020-12 the
    document uses; formats and patterns are not checked)."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f'{where}: not allowed']
    if '$ref' in schema:
        target, err = resolve_pointer(doc, schema['$ref'])
        if err:
            return [f'{where}: {err}']
        errs = schema_errors(doc, target, value, where)
        rest = {k: v for k, v in schema.items() if k not in ('$ref', 'description')}
        return errs + (schema_errors(doc, rest, value, where) if rest else [])
    errs = []
    types = schema.get('type')
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(JSON_TYPES[t](value) for t in types):
            return [f'{where}: {json.dumps(value)[:60]} is not of type {types}']
    if 'const' in schema and value != schema['const']:
        errs.append(f'{where}: {value!r} != const {schema["const"]!r}')
    if 'enum' in schema and value not in schema['enum']:
        errs.append(f'{where}: {value!r} not in {schema["enum"]}')
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 'minimum' in schema and value < schema['minimum']:
            errs.append(f'{where}: {value} < minimum {schema["minimum"]}')
        if 'maximum' in schema and value > schema['maximum']:
            errs.append(f'{where}: {value} > maximum {schema["maximum"]}')
    if isinstance(value, str):
        if len(value) < schema.get('minLength', 0) or len(value) > schema.get('maxLength', math.inf):
            errs.append(f'{where}: length {len(value)} out of bounds')
    if isinstance(value, list):
        if len(value) < schema.get('minItems', 0) or len(value) > schema.get('maxItems', math.inf):
            errs.append(f'{where}: {len(value)} items out of bounds')
        if 'items' in schema:
            for i, item in enumerate(value):
                errs += schema_errors(doc, schema['items'], item, f'{where}[{i}]')
    if isinstance(value, dict):
        props = schema.get('properties', {})
        for name in schema.get('required', []):
            if name not in value:
                errs.append(f'{where}: required member {name!r} missing')
        if len(value) > schema.get('maxProperties', math.inf):
            errs.append(f'{where}: too many members')
        extra = schema.get('additionalProperties', True)
        for name, v in value.items():
            if name in props:
                errs += schema_errors(doc, props[name], v, f'{where}.{name}')
            else:
                errs += schema_errors(doc, extra, v, f'{where}.{name}')
    for sub in schema.get('allOf', []):
        errs += schema_errors(doc, sub, value, where)
    if 'oneOf' in schema:
        results = [schema_errors(doc, sub, value, where) for sub in schema['oneOf']]
        passing = sum(1 for r in results if not r)
        if passing != 1:
            detail = min(results, key=len) if passing == 0 else ['more than one matched']
            errs.append(f'{where}: matches {passing} of oneOf: {detail[:2]}')
    return errs


def response_schema(doc, path, method, status):
    op = doc['paths'][path][method]
    resp = deref(doc, op['responses'].get(str(status), {}))
    content = (resp or {}).get('content', {})
    media = next(iter(content.values()), {}) if content else {}
    return media.get('schema') if media else None, resp is not None and bool(resp)


def check_examples(doc):
    for name, schema in doc['components']['schemas'].items():
        for i, example in enumerate(schema.get('examples', [])):
            if schema.get('type') == 'object' or 'properties' in schema:
                errs = schema_errors(doc, schema, example, f'{name}.examples[{i}]')
                check(not errs, f'example does not match its schema: {errs[:3]}')


def check_reply(doc, srv, method, path, template, status_want, key=None, body=None):
    status, headers, raw = srv.request(method, path, key=key, body=body)
    where = f'{method} {path}'
    if status == 404 and template not in ('/v1/responses/{id}',):
        status_, _, _ = srv.request('OPTIONS', path)
        if status_ == 404:
            return None  # not served by this binary: reported by check_routes
    if not check(status == status_want, f'{where} -> {status}, want {status_want}: {raw[:200]!r}'):
        return None
    schema, documented = response_schema(doc, template, method.lower(), status)
    if not check(documented, f'{where}: status {status} is not documented'):
        return None
    ctype = headers.get('Content-Type', '').split(';')[0]
    if schema is None or not ctype.endswith('json'):
        return None
    value = json.loads(raw)
    errs = schema_errors(doc, schema, value)
    check(not errs, f'{where}: the reply does not match the documented schema: {errs[:4]}')
    return value


def check_shapes(doc, srv):
    check_examples(doc)
    survey = {'customer_id': 'c-shape', 'contact_id': 'k-1', 'channel': 'chat', 'agent_id': 'a-1',
              'segment': 'vip', 'expectation': 'exceeded', 'csat': 5, 'effort': 2, 'resolved': True,
              'nps': 9, 'comment': 'great', 'tags': ['t'], 'metadata': {'k': 'v'}}
    stored = check_reply(doc, srv, 'POST', '/v1/surveys', '/v1/surveys', 201, 'ingest', survey)
    check_reply(doc, srv, 'POST', '/v1/nps', '/v1/nps', 201, 'ingest', {'customer_id': 'c-shape', 'score': 10})
    check_reply(doc, srv, 'POST', '/v1/surveys', '/v1/surveys', 422, 'ingest', {'customer_id': 'c-shape', 'csat': 9})
    check_reply(doc, srv, 'POST', '/v1/batch', '/v1/batch', 200, 'ingest',
                {'items': [{'type': 'survey', 'customer_id': 'c-shape', 'csat': 4},
                           {'type': 'nps', 'customer_id': 'c-shape', 'score': 11}]})
    check_reply(doc, srv, 'GET', '/v1/responses', '/v1/responses', 200, 'read')
    check_reply(doc, srv, 'GET', '/v1/responses?limit=1', '/v1/responses', 200, 'read')
    check_reply(doc, srv, 'GET', '/v1/responses', '/v1/responses', 401)
    check_reply(doc, srv, 'GET', '/v1/responses', '/v1/responses', 403, 'ingest')
    if stored:
        check_reply(doc, srv, 'GET', f'/v1/responses/{stored["id"]}', '/v1/responses/{id}', 200, 'read')
    check_reply(doc, srv, 'GET', '/v1/responses/00000000-0000-4000-8000-000000000000', '/v1/responses/{id}', 404, 'read')
    check_reply(doc, srv, 'GET', '/v1/customers', '/v1/customers', 200, 'read')
    check_reply(doc, srv, 'GET', '/v1/customers/c-shape', '/v1/customers/{customer_id}', 200, 'read')
    check_reply(doc, srv, 'GET', '/v1/customers/c-never-seen', '/v1/customers/{customer_id}', 404, 'read')
    check_reply(doc, srv, 'GET', '/v1/dashboard/summary', '/v1/dashboard/summary', 200, 'read')
    check_reply(doc, srv, 'GET', '/v1/dashboard/trend?metric=nps', '/v1/dashboard/trend', 200, 'read')
    check_reply(doc, srv, 'GET', '/v1/dashboard/trend', '/v1/dashboard/trend', 422, 'read')
    check_reply(doc, srv, 'GET', '/v1/dashboard/breakdown?by=channel', '/v1/dashboard/breakdown', 200, 'read')
    check_reply(doc, srv, 'GET', '/healthz', '/healthz', 200)
    check_reply(doc, srv, 'GET', '/readyz', '/readyz', 200)
    check_reply(doc, srv, 'GET', '/openapi.json', '/openapi.json', 200)
    check_reply(doc, srv, 'GET', '/metrics', '/metrics', 200)


def main():
    raw = DOC_PATH.read_bytes()
    try:
        doc = json.loads(raw)
    except ValueError as e:
        sys.exit(f'{DOC_PATH}: not JSON: {e}')
    check_structure(doc)
    srv = Server()
    try:
        status, headers, body = srv.request('GET', '/openapi.json')
        check(status == 200, f'GET /openapi.json -> {status}')
        check(headers.get('Content-Type', '').split(';')[0] == 'application/json',
              f'/openapi.json content type {headers.get("Content-Type")!r}')
        check(body == raw, 'the served document differs from docs/openapi.json (stale build?)')
        check_routes(doc, srv)
        check_query_params(doc, srv)
        check_shapes(doc, srv)
    finally:
        srv.stop()
    if FAILURES:
        print(f'{len(FAILURES)} check(s) failed', file=sys.stderr)
        sys.exit(1)
    print(f'openapi: {len(doc_routes(doc))} operations match the router and the binary')


if __name__ == '__main__':
    main()
