"""Integration tests of the HTTP API against SPEC.md sections 2-4 and 6.

Run by meson as `python3 test_api.py <path to feedbackd>`. Every TestCase
class starts its own server (setUpClass); tests inside a class share it, so
they never assume an empty database except where a class owns its data set
(ListResponsesTest). Expected values are computed from what the test sent.
"""

import datetime
import http.client
import json
import re
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.parse
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import harness  # noqa: E402
from harness import (AUTO, KEYS, Server, iso, media_type, parallel,  # noqa: E402
                     parse_iso, utcnow)

DAY = datetime.timedelta(days=1)
MINUTE = datetime.timedelta(minutes=1)
MAX_BODY = 65536

CHANNELS = ["phone", "email", "chat", "in_person", "web", "mobile", "social", "other"]
SURVEY_FIELDS = ["customer_id", "contact_id", "channel", "agent_id", "segment", "submitted_at",
                 "expectation", "csat", "effort", "resolved", "nps", "comment", "tags", "metadata"]
NPS_FIELDS = ["customer_id", "score", "comment", "channel", "segment", "submitted_at", "tags",
              "metadata"]
# Keys of a stored record: every field of its kind plus what the service adds.
SURVEY_KEYS = {"id", "type", "received_at", *SURVEY_FIELDS}
NPS_KEYS = {"id", "type", "received_at", *NPS_FIELDS}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

OMIT = object()  # survey(csat=OMIT) leaves the field out


# ---------------------------------------------------------------- bodies

def new_customer(prefix="cust"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def with_fields(body, fields):
    body = dict(body)
    for name, value in fields.items():
        if value is OMIT:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def survey(**fields):
    """A valid minimal survey for a new customer, with fields changed."""
    return with_fields({"customer_id": new_customer(), "csat": 4}, fields)


def nps(**fields):
    """A valid minimal NPS rating for a new customer, with fields changed."""
    return with_fields({"customer_id": new_customer(), "score": 8}, fields)


def full_survey():
    return {
        "customer_id": new_customer(),
        "contact_id": "call-" + uuid.uuid4().hex[:8],
        "channel": "phone",
        "agent_id": "agent-7",
        "segment": "vip",
        "submitted_at": iso(utcnow() - DAY),
        "expectation": "exceeded",
        "csat": 5,
        "effort": 2,
        "resolved": True,
        "nps": 9,
        "comment": "Quick and friendly.",
        "tags": ["billing", "refund"],
        "metadata": {"app_version": "4.2.0", "locale": "de-DE"},
    }


def full_nps():
    return {
        "customer_id": new_customer(),
        "score": 10,
        "comment": "Would recommend.",
        "channel": "web",
        "segment": "gold",
        "submitted_at": iso(utcnow() - 2 * DAY),
        "tags": ["relationship"],
        "metadata": {"campaign": "q3"},
    }


def raw_survey(**raw_members):
    """A survey body as text, with members whose JSON text is given verbatim
    (for numbers json.dumps cannot write, such as 1e999)."""
    members = [f'"customer_id": {json.dumps(new_customer())}']
    members += [f"{json.dumps(name)}: {text}" for name, text in raw_members.items()]
    return "{" + ", ".join(members) + "}"


def padded(body, size):
    """body as JSON text padded with spaces to exactly size bytes."""
    data = json.dumps(body).encode()
    assert len(data) <= size
    return data + b" " * (size - len(data))


def short(value):
    """A readable label for a test value (long strings are summarised)."""
    if value is OMIT:
        return "<omitted>"
    text = repr(value)
    if len(text) <= 40:
        return text
    length = f"{len(value)} items" if isinstance(value, (list, dict)) else f"{len(value)} chars"
    return f"{text[:16]}... ({type(value).__name__}, {length})"


def query(path, **params):
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def newest_first(records):
    return sorted(records, key=lambda r: (parse_iso(r["submitted_at"]), r["id"]), reverse=True)


# ---------------------------------------------------------------- server-level helpers

def post_created(server, path, body, key="ingest"):
    """POST and insist on 201; returns the record."""
    resp = server.request("POST", path, body, key=key)
    if resp.status != 201:
        raise AssertionError(f"POST {path} {body!r}: expected 201, got {resp.status} {resp.body!r}")
    return resp.body


def list_pages(server, params=None, key="admin", limit=None):
    """Walk GET /v1/responses with the cursor; returns the list of pages."""
    params = dict(params or {})
    if limit is not None:
        params["limit"] = str(limit)
    pages, cursor = [], None
    for _ in range(10000):
        page_params = dict(params, **({"cursor": cursor} if cursor is not None else {}))
        resp = server.request("GET", query("/v1/responses", **page_params), key=key)
        if resp.status != 200:
            raise AssertionError(f"listing {page_params}: {resp.status} {resp.body!r}")
        if not isinstance(resp.body, dict) or set(resp.body) != {"data", "next_cursor"}:
            raise AssertionError(f"listing shape: {resp.body!r}")
        pages.append(resp.body["data"])
        cursor = resp.body["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination does not end")


def list_all(server, params=None, key="admin"):
    """Every stored row matching params, in the order the service lists them."""
    return [row for page in list_pages(server, params, key, limit=500) for row in page]


# ---------------------------------------------------------------- base class

class ApiTestCase(unittest.TestCase):
    """Starts one server for the class; assertion helpers for the contract."""

    server_env = {}

    @classmethod
    def setUpClass(cls):
        cls.server = Server(env=cls.server_env)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    def request(self, *args, **kwargs):
        return self.server.request(*args, **kwargs)

    # -- successes

    def assert_json(self, resp, status):
        self.assertEqual(resp.status, status, resp.body)
        ctype = resp.headers.get("content-type", "")
        self.assertEqual(media_type(ctype), "application/json", ctype)
        charset = re.search(r";\s*charset=([^;\s]+)", ctype, re.I)
        if charset:
            self.assertEqual(charset.group(1).strip('"').lower(), "utf-8", ctype)
        return resp.body

    def create(self, body, path="/v1/surveys", key="ingest", headers=None):
        """POST, expect 201 with a Location; returns the record."""
        before = time.time()
        resp = self.request("POST", path, body, key=key, headers=headers)
        after = time.time()
        record = self.assert_json(resp, 201)
        self.assert_record_shape(record, "nps" if path == "/v1/nps" else "survey")
        self.assertEqual(resp.headers.get("location"), f"/v1/responses/{record['id']}")
        self.assert_time_between(record["received_at"], before, after)
        return record

    def assert_record_shape(self, record, kind):
        self.assertIsInstance(record, dict)
        self.assertEqual(set(record), SURVEY_KEYS if kind == "survey" else NPS_KEYS)
        self.assertEqual(record["type"], kind)
        self.assertRegex(record["id"], UUID_RE)
        self.assertRegex(record["received_at"], TIME_RE)
        self.assertRegex(record["submitted_at"], TIME_RE)

    def assert_time_between(self, text, before, after):
        """text (service format) lies in [floor(before), ceil(after)]."""
        self.assertRegex(text, TIME_RE)
        t = parse_iso(text).timestamp()
        self.assertGreaterEqual(t, int(before), text)
        self.assertLessEqual(t, int(after) + 1, text)

    def expected_record(self, body, record, kind="survey"):
        """What the service must store for body: every field echoed, absent
        optional fields null, channel defaulting to 'other', the id lowercased.
        For a customer with no earlier segment (SegmentTest covers the others)."""
        fields = SURVEY_FIELDS if kind == "survey" else NPS_FIELDS
        expected = {name: body.get(name) for name in fields}
        if expected["channel"] is None:
            expected["channel"] = "other"
        expected.update(type=kind, received_at=record["received_at"],
                        id=body["id"].lower() if body.get("id") else record["id"])
        if body.get("submitted_at") is None:
            expected["submitted_at"] = record["submitted_at"]
        return expected

    def get_record(self, record_id, key="read"):
        return self.assert_json(self.request("GET", f"/v1/responses/{record_id}", key=key), 200)

    # -- errors

    def assert_problem(self, resp, status):
        """An RFC 9457 problem with the given status; returns its body."""
        self.assertEqual(resp.status, status, resp.body)
        ctype = resp.headers.get("content-type", "")
        self.assertEqual(media_type(ctype), "application/problem+json", ctype)
        problem = resp.body
        self.assertIsInstance(problem, dict, problem)
        for member in ("type", "title", "detail"):
            self.assertIsInstance(problem.get(member), str, f"{member} in {problem}")
        self.assertIs(type(problem.get("status")), int, problem)
        self.assertEqual(problem["status"], status)
        if status == 422:
            errors = problem.get("errors")
            self.assertIsInstance(errors, list, problem)
            self.assertTrue(errors, problem)
            for error in errors:
                self.assertIsInstance(error, dict, problem)
                self.assertIsInstance(error.get("field"), str, problem)
                self.assertIsInstance(error.get("message"), str, problem)
        return problem

    def assert_fields_reported(self, problem, fields):
        """Each name in fields has an error on it (or on a part of it, such
        as tags[3] or metadata.k)."""
        reported = [e["field"] for e in problem["errors"]]
        for name in fields:
            self.assertTrue(any(f == name or f.startswith((name + "[", name + ".", name + "/"))
                                for f in reported),
                            f"no error for {name!r} in {problem['errors']}")

    def assert_rejected(self, status, method, path, body=None, headers=None, key=AUTO,
                        fields=()):
        """The request is refused with a problem of this status and stores
        nothing: the full listing is the same before and after."""
        before = list_all(self.server)
        resp = self.request(method, path, body, headers=headers, key=key)
        problem = self.assert_problem(resp, status)
        if fields:
            self.assert_fields_reported(problem, fields)
        self.assertEqual(list_all(self.server), before, "a rejected request changed the data")
        return resp


# ---------------------------------------------------------------- submissions

class SubmitSurveyTest(ApiTestCase):

    def test_full_survey_is_stored_and_echoed(self):
        body = full_survey()
        record = self.create(body)
        self.assertEqual(record, self.expected_record(body, record))
        self.assertEqual(record["segment"], "vip")

    def test_minimal_survey_gets_defaults(self):
        body = survey()
        before = time.time()
        record = self.create(body)
        after = time.time()
        self.assertEqual(record, self.expected_record(body, record))
        self.assertEqual(record["channel"], "other")
        for name in ("contact_id", "agent_id", "segment", "expectation", "effort", "resolved",
                     "nps", "comment", "tags", "metadata"):
            self.assertIsNone(record[name], name)
        self.assert_time_between(record["submitted_at"], before, after)

    def test_null_optional_fields_mean_not_given(self):
        body = survey(contact_id=None, channel=None, agent_id=None, segment=None,
                      submitted_at=None, effort=None, nps=None, comment=None, tags=None,
                      metadata=None, id=None)
        record = self.create(body)
        self.assertEqual(record, self.expected_record(body, record))
        self.assertEqual(record["channel"], "other")

    def test_each_outcome_field_alone_is_enough(self):
        for fields in ({"expectation": "met"}, {"csat": 3}, {"nps": 7}):
            with self.subTest(fields):
                body = with_fields(survey(csat=OMIT), fields)
                record = self.create(body)
                self.assertEqual(record, self.expected_record(body, record))

    def test_every_channel_is_accepted(self):
        for channel in CHANNELS:
            with self.subTest(channel):
                self.assertEqual(self.create(survey(channel=channel))["channel"], channel)

    def test_service_ids_are_unique(self):
        ids = {self.create(survey())["id"] for _ in range(5)}
        self.assertEqual(len(ids), 5)

    def test_content_type_with_charset_is_accepted(self):
        for ctype in ("application/json; charset=utf-8", "application/json;charset=UTF-8",
                      "Application/JSON"):
            with self.subTest(ctype):
                body = survey()
                record = self.create(body, headers={"Content-Type": ctype})
                self.assertEqual(record, self.expected_record(body, record))

    def test_client_id_is_stored_lowercased(self):
        client_id = str(uuid.uuid4())
        body = survey(id=client_id.upper())
        record = self.create(body)
        self.assertEqual(record["id"], client_id)
        self.assertEqual(record, self.expected_record(body, record))
        self.assertEqual(self.get_record(client_id), record)

    def test_repeat_with_client_id_returns_stored_record(self):
        body = survey(id=str(uuid.uuid4()), comment="first")
        record = self.create(body)
        again = self.request("POST", "/v1/surveys", body)
        self.assertEqual(self.assert_json(again, 200), record)
        self.assertEqual(list_all(self.server, {"customer_id": body["customer_id"]}), [record])

    def test_client_id_with_different_body_is_409(self):
        body = survey(id=str(uuid.uuid4()), csat=4)
        record = self.create(body)
        self.assert_rejected(409, "POST", "/v1/surveys", dict(body, csat=2))
        self.assertEqual(self.get_record(record["id"]), record)

    def test_concurrent_duplicates_store_one_row(self):
        body = survey(id=str(uuid.uuid4()))
        responses = parallel(lambda _: self.request("POST", "/v1/surveys", body), range(8))
        statuses = sorted(r.status for r in responses)
        self.assertEqual(statuses, [200] * 7 + [201], [r.body for r in responses])
        records = [r.body for r in responses]
        self.assertTrue(all(r == records[0] for r in records), records)
        self.assertEqual(list_all(self.server, {"customer_id": body["customer_id"]}), [records[0]])

    def test_admin_key_may_submit(self):
        body = survey()
        record = self.create(body, key="admin")
        self.assertEqual(record, self.expected_record(body, record))


class SubmitNpsTest(ApiTestCase):

    def test_full_nps_is_stored_and_echoed(self):
        body = full_nps()
        record = self.create(body, path="/v1/nps")
        self.assertEqual(record, self.expected_record(body, record, "nps"))

    def test_minimal_nps_gets_defaults(self):
        body = nps(score=0)
        record = self.create(body, path="/v1/nps")
        self.assertEqual(record, self.expected_record(body, record, "nps"))
        self.assertEqual(record["channel"], "other")
        for name in ("comment", "segment", "tags", "metadata"):
            self.assertIsNone(record[name], name)

    def test_score_limits_are_accepted(self):
        for score in (0, 10):
            with self.subTest(score=score):
                self.assertEqual(self.create(nps(score=score), path="/v1/nps")["score"], score)

    def test_client_id_repeat_and_conflict(self):
        body = nps(id=str(uuid.uuid4()))
        record = self.create(body, path="/v1/nps")
        self.assertEqual(self.assert_json(self.request("POST", "/v1/nps", body), 200), record)
        self.assert_rejected(409, "POST", "/v1/nps", dict(body, score=1))


class GetResponseTest(ApiTestCase):

    def test_get_returns_the_stored_record(self):
        for path, body in (("/v1/surveys", full_survey()), ("/v1/nps", full_nps())):
            with self.subTest(path):
                record = self.create(body, path=path)
                self.assertEqual(self.get_record(record["id"]), record)
                self.assertEqual(self.get_record(record["id"], key="admin"), record)

    def test_unknown_id_is_404(self):
        resp = self.request("GET", f"/v1/responses/{uuid.uuid4()}")
        self.assert_problem(resp, 404)

    def test_malformed_id_is_404(self):
        for bad in ("not-a-uuid", "1234", "%27%20OR%201%3D1--", str(uuid.uuid4()) + "0"):
            with self.subTest(bad):
                self.assert_problem(self.request("GET", f"/v1/responses/{bad}"), 404)


# ---------------------------------------------------------------- listing

class ListResponsesTest(ApiTestCase):
    """Owns its data set: ROWS submissions over three customers, in groups of
    three that share a submitted_at (so ties are ordered by id), half of them
    with client ids (random, so id order differs from insertion order)."""

    ROWS = 62
    CUSTOMERS = ["list-a", "list-b", "list-c"]
    AGENTS = ["agent-0", "agent-1", "agent-2", "agent-3"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = utcnow() - 10 * DAY
        items = [cls.row(i) for i in range(cls.ROWS)]
        cls.records = parallel(lambda item: post_created(cls.server, *item), items)
        cls.expected = newest_first(cls.records)

    @classmethod
    def row(cls, i):
        body = {
            "customer_id": cls.CUSTOMERS[i % 3],
            "submitted_at": iso(cls.group_time(i // 3)),
            "channel": CHANNELS[i % len(CHANNELS)],
        }
        if i % 2:
            body["id"] = str(uuid.uuid4())
        if i % 4 == 1:
            body["segment"] = "gold" if i % 3 == 0 else "silver"
        if i % 5 == 0:
            return "/v1/nps", dict(body, score=i % 11)
        return "/v1/surveys", dict(body, csat=1 + i % 5, agent_id=cls.AGENTS[i % 4])

    @classmethod
    def group_time(cls, group):
        return cls.base + datetime.timedelta(hours=group)

    def page(self, key="read", **params):
        resp = self.request("GET", query("/v1/responses", **params), key=key)
        body = self.assert_json(resp, 200)
        self.assertEqual(set(body), {"data", "next_cursor"})
        return body

    def where(self, predicate):
        return [r for r in self.expected if predicate(r)]

    def test_data_set_has_ties(self):
        times = [r["submitted_at"] for r in self.records]
        self.assertLess(len(set(times)), len(times))

    def test_all_rows_newest_first_ties_by_id_descending(self):
        body = self.page(limit="500")
        self.assertEqual(body["data"], self.expected)
        self.assertIsNone(body["next_cursor"])

    def test_default_limit_is_50(self):
        body = self.page()
        self.assertEqual(body["data"], self.expected[:50])
        self.assertIsInstance(body["next_cursor"], str)

    def test_limit_500_is_allowed(self):
        self.assertEqual(self.page(limit="500")["data"], self.expected)

    def test_next_cursor_is_null_when_the_last_page_is_full(self):
        body = self.page(limit=str(self.ROWS))
        self.assertEqual(body["data"], self.expected)
        self.assertIsNone(body["next_cursor"])
        body = self.page(limit=str(self.ROWS - 1))
        self.assertEqual(body["data"], self.expected[:-1])
        self.assertIsInstance(body["next_cursor"], str)

    def test_cursor_walks_every_row_exactly_once(self):
        for limit in (1, 2, 7, 31, 50):
            with self.subTest(limit=limit):
                pages = list_pages(self.server, key="read", limit=limit)
                rows = [row for page in pages for row in page]
                self.assertEqual(rows, self.expected)
                self.assertEqual(len({r["id"] for r in rows}), self.ROWS)
                self.assertTrue(all(len(p) == limit for p in pages[:-1]))
                self.assertTrue(1 <= len(pages[-1]) <= limit)

    def test_cursor_walks_a_filtered_listing(self):
        params = {"customer_id": self.CUSTOMERS[0]}
        pages = list_pages(self.server, params, key="read", limit=4)
        rows = [row for page in pages for row in page]
        self.assertEqual(rows, self.where(lambda r: r["customer_id"] == self.CUSTOMERS[0]))

    def test_filters(self):
        since = self.group_time(5)
        until = self.group_time(12)
        cases = [
            ({"customer_id": "list-b"}, lambda r: r["customer_id"] == "list-b"),
            ({"type": "survey"}, lambda r: r["type"] == "survey"),
            ({"type": "nps"}, lambda r: r["type"] == "nps"),
            ({"channel": "chat"}, lambda r: r["channel"] == "chat"),
            ({"channel": "other"}, lambda r: r["channel"] == "other"),
            ({"agent_id": "agent-2"}, lambda r: r.get("agent_id") == "agent-2"),
            ({"segment": "gold"}, lambda r: r["segment"] == "gold"),
            ({"segment": "silver"}, lambda r: r["segment"] == "silver"),
            ({"since": iso(since)}, lambda r: parse_iso(r["submitted_at"]) >= since),
            ({"until": iso(until)}, lambda r: parse_iso(r["submitted_at"]) < until),
            ({"since": iso(since), "until": iso(until)},
             lambda r: since <= parse_iso(r["submitted_at"]) < until),
            ({"since": since.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
              .isoformat()},
             lambda r: parse_iso(r["submitted_at"]) >= since),
            ({"customer_id": "list-a", "type": "survey", "until": iso(until)},
             lambda r: r["customer_id"] == "list-a" and r["type"] == "survey"
             and parse_iso(r["submitted_at"]) < until),
            ({"customer_id": "nobody"}, lambda r: False),
        ]
        for params, predicate in cases:
            with self.subTest(params):
                expected = self.where(predicate)
                body = self.page(limit="500", **params)
                self.assertEqual(body["data"], expected)
                self.assertIsNone(body["next_cursor"])
        self.assertTrue(self.where(lambda r: r["segment"] == "gold"), "data set lacks gold rows")

    def test_since_equal_until_is_empty(self):
        t = iso(self.group_time(3))
        self.assertEqual(self.page(since=t, until=t)["data"], [])

    def test_listed_records_equal_single_gets(self):
        for record in self.expected[:5]:
            self.assertEqual(self.get_record(record["id"]), record)

    def assert_bad_query(self, params, field):
        resp = self.request("GET", query("/v1/responses", **params), key="read")
        problem = self.assert_problem(resp, 422)
        self.assert_fields_reported(problem, [field])

    def test_bad_limit_is_422(self):
        for limit in ("501", "0", "-1", "abc", "1.5", "10abc"):
            with self.subTest(limit=limit):
                self.assert_bad_query({"limit": limit}, "limit")

    def test_garbage_cursor_is_422(self):
        for cursor in ("garbage", "!!!", "%%%", "AAAAAAAAAAAAAAAAAAAAAAAA"):
            with self.subTest(cursor=cursor):
                self.assert_bad_query({"cursor": cursor}, "cursor")

    def test_unknown_query_parameter_is_422(self):
        for name in ("customer", "customerId", "Limit", "sort"):
            with self.subTest(name=name):
                self.assert_bad_query({name: "x"}, name)

    def test_bad_filter_values_are_422(self):
        cases = [
            ("since", "yesterday"), ("since", "2026-13-01T00:00:00Z"), ("until", "12345"),
            ("type", "Survey"), ("type", "all"), ("channel", "fax"),
        ]
        for name, value in cases:
            with self.subTest(name=name, value=value):
                self.assert_bad_query({name: value}, name)


class SegmentTest(ApiTestCase):
    """SPEC 4: a submission's segment is the one it carried, else its
    customer's segment when it was stored."""

    def test_segment_is_inherited_at_storage_time(self):
        customer = new_customer()
        first = self.create(survey(customer_id=customer))
        tagged = self.create(survey(customer_id=customer, segment="vip"))
        inherited = self.create(survey(customer_id=customer))
        rating = self.create(nps(customer_id=customer), path="/v1/nps")
        changed = self.create(survey(customer_id=customer, segment="gold"))
        latest = self.create(survey(customer_id=customer))
        records = (first, tagged, inherited, rating, changed, latest)
        self.assertEqual([r["segment"] for r in records],
                         [None, "vip", "vip", "vip", "gold", "gold"])
        # Stored values do not change afterwards.
        self.assertIsNone(self.get_record(first["id"])["segment"])
        self.assertEqual(self.get_record(inherited["id"])["segment"], "vip")
        listed = list_all(self.server, {"customer_id": customer, "segment": "vip"})
        self.assertEqual(listed, newest_first([tagged, inherited, rating]))

    def test_other_customers_do_not_inherit(self):
        self.create(survey(segment="vip"))
        self.assertIsNone(self.create(survey())["segment"])


# ---------------------------------------------------------------- errors

class MalformedJsonTest(ApiTestCase):
    """400 for anything that is not exactly one well-formed JSON value."""

    CASES = {
        "empty body": b"",
        "whitespace only": b"   ",
        "truncated object": b'{"customer_id": "c-1", "csat": 4',
        "truncated string": b'{"customer_id": "c-1',
        "trailing garbage": b'{"customer_id": "c-1", "csat": 4} x',
        "two values": b'{"customer_id": "c-1", "csat": 4}{}',
        "trailing comma": b'{"customer_id": "c-1", "csat": 4,}',
        "single quotes": b"{'customer_id': 'c-1', 'csat': 4}",
        "comment": b'{"customer_id": "c-1", /* hi */ "csat": 4}',
        "NaN": b'{"customer_id": "c-1", "csat": NaN}',
        "leading zero": b'{"customer_id": "c-1", "csat": 04}',
        "bad escape": b'{"customer_id": "c\\x41", "csat": 4}',
        "raw newline in string": b'{"customer_id": "c\n1", "csat": 4}',
        "raw tab in string": b'{"customer_id": "c\t1", "csat": 4}',
        "duplicate member": b'{"customer_id": "c-1", "csat": 4, "csat": 5}',
        "duplicate member, same value": b'{"customer_id": "c-1", "csat": 4, "csat": 4}',
        "duplicate nested member": b'{"customer_id": "c-1", "csat": 4, '
                                   b'"metadata": {"a": "1", "a": "2"}}',
        "invalid UTF-8 byte": b'{"customer_id": "c-\xff", "csat": 4}',
        "overlong UTF-8": b'{"customer_id": "c-\xc0\xaf", "csat": 4}',
        "UTF-8 encoded surrogate": b'{"customer_id": "c-\xed\xa0\x80", "csat": 4}',
        "truncated UTF-8 sequence": b'{"customer_id": "c-\xe2\x82", "csat": 4}',
        "code point above U+10FFFF": b'{"customer_id": "c-\xf4\x90\x80\x80", "csat": 4}',
        "invalid UTF-8 in a name": b'{"customer_id": "c-1", "csat": 4, "\xfe": "x"}',
        "10000 nested arrays": b"[" * 10000 + b"]" * 10000,
        "10000 nested objects": b'{"a":' * 10000 + b"1" + b"}" * 10000,
        "10000 nested arrays in a field": b'{"customer_id": "c-1", "csat": 4, "tags": '
                                          + b"[" * 10000 + b"]" * 10000 + b"}",
    }

    def test_malformed_survey_bodies_are_400(self):
        for name, body in self.CASES.items():
            with self.subTest(name):
                self.assertLessEqual(len(body), MAX_BODY)
                self.assert_rejected(400, "POST", "/v1/surveys", body)

    def test_malformed_nps_bodies_are_400(self):
        for name in ("truncated object", "duplicate member", "invalid UTF-8 byte",
                     "10000 nested arrays"):
            with self.subTest(name):
                self.assert_rejected(400, "POST", "/v1/nps", self.CASES[name])

    def test_well_formed_non_object_is_422(self):
        for body in (b"[]", b"5", b"null", b'"survey"', b"true"):
            with self.subTest(body):
                self.assert_rejected(422, "POST", "/v1/surveys", body)


class AuthTest(ApiTestCase):

    def assert_unauthorized(self, method, path, body, key):
        resp = self.assert_rejected(401, method, path, body, key=key)
        self.assertIn("bearer", resp.headers.get("www-authenticate", "").lower())

    def test_missing_or_bad_credentials_are_401(self):
        record = self.create(survey())
        targets = [("POST", "/v1/surveys", survey()), ("POST", "/v1/nps", nps()),
                   ("GET", "/v1/responses", None), ("GET", f"/v1/responses/{record['id']}", None)]
        credentials = [None, "Bearer unknown_key", "Basic xyz", "Bearer", "Bearer ",
                       "Bearer " + KEYS["admin"].upper(), KEYS["admin"]]
        for method, path, body in targets:
            for key in credentials:
                with self.subTest(method=method, path=path, key=key):
                    self.assert_unauthorized(method, path, body, key)

    def test_credentials_are_checked_before_the_body(self):
        self.assert_unauthorized("POST", "/v1/surveys", b'{"truncated', None)
        self.assert_unauthorized("POST", "/v1/surveys", survey(csat=99), "Bearer nope")

    def test_read_key_cannot_submit(self):
        self.assert_rejected(403, "POST", "/v1/surveys", survey(), key="read")
        self.assert_rejected(403, "POST", "/v1/nps", nps(), key="read")

    def test_ingest_key_cannot_read(self):
        record = self.create(survey())
        self.assert_rejected(403, "GET", "/v1/responses", key="ingest")
        self.assert_rejected(403, "GET", f"/v1/responses/{record['id']}", key="ingest")

    def test_admin_key_reads_and_writes(self):
        record = self.create(survey(), key="admin")
        self.assertEqual(self.get_record(record["id"], key="admin"), record)


class RoutingTest(ApiTestCase):

    def test_health_endpoints_need_no_key(self):
        for path in ("/healthz", "/readyz"):
            with self.subTest(path):
                self.assertEqual(self.request("GET", path, key=None).status, 200)

    def test_unknown_paths_are_404(self):
        for path in ("/v1/nope", "/v1/surveys/extra", "/v1", "/v2/surveys", "/nope", "/",
                     "/v1/responses/" + str(uuid.uuid4()) + "/more"):
            with self.subTest(path):
                self.assert_rejected(404, "GET", path, key="admin")

    def allowed(self, resp):
        return {m.strip().upper() for m in resp.headers.get("allow", "").split(",") if m.strip()}

    def test_wrong_method_is_405_with_allow(self):
        record = self.create(survey())
        cases = [
            ("DELETE", "/v1/surveys", "POST"),
            ("GET", "/v1/surveys", "POST"),
            ("PUT", "/v1/nps", "POST"),
            ("PUT", f"/v1/responses/{record['id']}", "GET"),
            ("DELETE", f"/v1/responses/{record['id']}", "GET"),
            ("POST", "/v1/responses", "GET"),
            ("POST", "/healthz", "GET"),
        ]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                body = survey() if method in ("POST", "PUT") else None
                resp = self.assert_rejected(405, method, path, body, key="admin")
                self.assertIn(allowed, self.allowed(resp))
                self.assertNotIn(method, self.allowed(resp))

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        conn = self.server.connect()
        self.addCleanup(conn.close)
        auth = {"Authorization": "Bearer " + KEYS["admin"]}
        body = survey()
        steps = [
            ("GET", "/healthz", None, {}, 200),
            ("POST", "/v1/surveys", json.dumps(body),
             dict(auth, **{"Content-Type": "application/json"}), 201),
            ("GET", "/v1/responses?" + urllib.parse.urlencode({"customer_id": body["customer_id"]}),
             None, auth, 200),
            ("GET", "/readyz", None, {}, 200),
        ]
        sock = None
        for method, path, data, headers, status in steps:
            with self.subTest(method=method, path=path):
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, status)
                self.assertFalse(resp.will_close, "server closed a keep-alive connection")
                if sock is not None:
                    self.assertIs(conn.sock, sock, "a new connection was opened")
                sock = conn.sock


class BodyLimitTest(ApiTestCase):
    """413 (Content-Length and chunked), 415, and requests whose framing lies."""

    def raw_post(self, body=b"", headers=(), key="ingest", path="/v1/surveys"):
        return harness.build_request("POST", path, body, headers, key=key)

    def assert_raw_rejected(self, status, data):
        """Like assert_rejected, for a hand-made request."""
        before = list_all(self.server)
        resp = self.server.raw(data)
        self.assertIsNotNone(resp, "connection closed without a response")
        self.assert_problem(resp, status)
        self.assertEqual(list_all(self.server), before)
        return resp

    def test_body_of_exactly_max_body_is_accepted(self):
        body = survey()
        record = self.create(padded(body, MAX_BODY))
        self.assertEqual(record, self.expected_record(body, record))

    def test_content_length_over_max_body_is_413(self):
        data = padded(survey(), MAX_BODY + 1)
        self.assert_raw_rejected(413, self.raw_post(data, [
            ("Content-Type", "application/json"), ("Content-Length", str(len(data)))]))

    def test_oversized_content_length_is_refused_before_the_body(self):
        # No body is sent: the server must answer from the header alone.
        self.assert_raw_rejected(413, self.raw_post(b"", [
            ("Content-Type", "application/json"), ("Content-Length", str(10 * 1024 * 1024))]))

    def test_expect_continue_over_max_body_is_413(self):
        data = padded(survey(), MAX_BODY + 1)
        before = list_all(self.server)
        conn = self.server.raw_connection()
        self.addCleanup(conn.close)
        conn.send(self.raw_post(b"", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(data))),
                                      ("Expect", "100-continue")]))
        resp = conn.read_response()
        if resp is not None and resp.status == 100:
            conn.send(data)
            resp = conn.read_response()
        self.assertIsNotNone(resp, "connection closed without a response")
        self.assert_problem(resp, 413)
        self.assertEqual(list_all(self.server), before)

    def test_chunked_body_is_accepted(self):
        body = full_survey()
        data = json.dumps(body).encode()
        resp = self.server.raw(self.raw_post(harness.chunked(data, 7), [
            ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
        record = self.assert_json(resp, 201)
        self.assertEqual(record, self.expected_record(body, record))
        self.assertEqual(self.get_record(record["id"]), record)

    def test_chunked_body_at_max_body_is_accepted(self):
        body = survey()
        resp = self.server.raw(self.raw_post(harness.chunked(padded(body, MAX_BODY), 4096), [
            ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
        record = self.assert_json(resp, 201)
        self.assertEqual(record, self.expected_record(body, record))

    def test_chunked_body_over_max_body_is_413(self):
        data = padded(survey(), MAX_BODY + 1)
        self.assert_raw_rejected(413, self.raw_post(harness.chunked(data, 4096), [
            ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))

    def test_endless_chunked_body_is_cut_off(self):
        # The terminating chunk never comes and the body goes on far past the
        # limit: no reply is possible mid-body (libmicrohttpd takes one only
        # before or after the body), so the server must close the connection
        # once it has read a bounded amount, and store nothing.
        before = list_all(self.server)
        conn = self.server.raw_connection()
        self.addCleanup(conn.close)
        conn.send(self.raw_post(b"", [("Content-Type", "application/json"),
                                      ("Transfer-Encoding", "chunked")]))
        chunk = harness.chunked(b" " * 65536, 65536)[:-len(b"0\r\n\r\n")]
        sent = 0
        while sent < 8 * 1024 * 1024 and conn.send(chunk):
            sent += len(chunk)
        self.assertLess(sent, 8 * 1024 * 1024, "the server kept reading an endless body")
        self.assertEqual(list_all(self.server), before)

    def test_content_length_shorter_than_body(self):
        data = json.dumps(survey()).encode()
        short = len(data) - 5  # the server sees a truncated value
        before = list_all(self.server)
        conn = self.server.raw_connection()
        self.addCleanup(conn.close)
        conn.send(self.raw_post(data, [("Content-Type", "application/json"),
                                       ("Content-Length", str(short))]))
        self.assert_problem(conn.read_response(), 400)
        self.assertEqual(list_all(self.server), before)

    def test_connection_closed_before_content_length_arrives(self):
        data = json.dumps(survey()).encode()
        before = list_all(self.server)
        conn = self.server.raw_connection(timeout=5)
        self.addCleanup(conn.close)
        conn.send(self.raw_post(data, [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(data) + 100))]))
        conn.shutdown_write()
        try:
            conn.read_response()  # whatever it says (usually nothing), it must not store
        except harness.HarnessError:
            pass
        self.assertEqual(list_all(self.server), before)
        self.assertEqual(self.request("GET", "/healthz", key=None).status, 200)

    def test_malformed_content_length_is_400(self):
        data = json.dumps(survey()).encode()
        before = list_all(self.server)
        resp = self.server.raw(self.raw_post(data, [("Content-Type", "application/json"),
                                                    ("Content-Length", "12abc")]))
        self.assertIsNotNone(resp, "connection closed without a response")
        self.assertEqual(resp.status, 400)
        self.assertEqual(list_all(self.server), before)

    def test_wrong_content_type_is_415(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                      "multipart/form-data; boundary=x"):
            with self.subTest(ctype):
                self.assert_rejected(415, "POST", "/v1/surveys", survey(),
                                     headers={"Content-Type": ctype})
        self.assert_rejected(415, "POST", "/v1/nps", nps(), headers={"Content-Type": "text/plain"})

    def test_missing_content_type_is_415(self):
        self.assert_rejected(415, "POST", "/v1/surveys", survey(), headers={"Content-Type": None})
        self.assert_rejected(415, "POST", "/v1/nps", nps(), headers={"Content-Type": None})


class ValidationTest(ApiTestCase):
    """Every field rule of SPEC 3: values at a limit are stored, one past it is 422."""

    def reject(self, body, fields=(), path="/v1/surveys"):
        return self.assert_rejected(422, "POST", path, body, fields=fields)

    def accept(self, body, path="/v1/surveys"):
        kind = "nps" if path == "/v1/nps" else "survey"
        record = self.create(body, path=path)
        self.assertEqual(record, self.expected_record(body, record, kind))
        return record

    def check_rejected(self, cases, make=survey, path="/v1/surveys"):
        for field, value in cases:
            with self.subTest(field=field, value=short(value)):
                self.reject(make(**{field: value}), [field], path)

    def check_accepted(self, cases, make=survey, path="/v1/surveys"):
        for field, value in cases:
            with self.subTest(field=field, value=short(value)):
                self.accept(make(**{field: value}), path)

    def test_customer_id(self):
        self.check_rejected([("customer_id", OMIT), ("customer_id", None), ("customer_id", ""),
                             ("customer_id", "x" * 129), ("customer_id", "é" * 129),
                             ("customer_id", "😀" * 129), ("customer_id", 42),
                             ("customer_id", ["c"]), ("customer_id", {"id": "c"})])
        self.check_accepted([("customer_id", "x" * 128), ("customer_id", "é" * 128),
                             ("customer_id", "中" * 128), ("customer_id", "😀" * 128),
                             ("customer_id", "x")])

    def test_optional_strings(self):
        for field, limit in (("contact_id", 128), ("agent_id", 128), ("segment", 64)):
            with self.subTest(field):
                self.check_rejected([(field, "x" * (limit + 1)), (field, "é" * (limit + 1)),
                                     (field, 7), (field, True), (field, ["x"])])
                self.check_accepted([(field, "x" * limit), (field, "é" * limit),
                                     (field, "😀" * limit)])

    def test_channel(self):
        self.check_rejected([("channel", "fax"), ("channel", "PHONE"), ("channel", ""),
                             ("channel", 3), ("channel", ["chat"])])

    def test_expectation(self):
        self.check_rejected([("expectation", "great"), ("expectation", "Met"),
                             ("expectation", ""), ("expectation", 1), ("expectation", True)])
        self.check_accepted([("expectation", v) for v in ("below", "met", "exceeded")])

    def test_csat(self):
        self.check_rejected([("csat", v) for v in (0, 6, -1, 3.5, "5", True, [5], {"v": 5})])
        self.check_accepted([("csat", 1), ("csat", 5)])

    def test_effort(self):
        self.check_rejected([("effort", v) for v in (0, 8, 2.5, "3", False)])
        self.check_accepted([("effort", 1), ("effort", 7)])

    def test_resolved(self):
        self.check_rejected([("resolved", v) for v in ("yes", "true", 1, 0, [True])])
        self.check_accepted([("resolved", True), ("resolved", False)])

    def test_nps(self):
        self.check_rejected([("nps", v) for v in (-1, 11, 10.5, "9", True, [9])])
        self.check_accepted([("nps", 0), ("nps", 10)])

    def test_nps_overflowing_number(self):
        for text in ("1e999", "-1e999", "1e400"):
            with self.subTest(text):
                self.reject(raw_survey(csat="4", nps=text), ["nps"])

    def test_comment(self):
        self.check_rejected([("comment", "x" * 4001), ("comment", "€" * 4001),
                             ("comment", "😀" * 4001), ("comment", 5), ("comment", ["x"])])
        self.check_accepted([("comment", "x" * 4000), ("comment", "€" * 4000),
                             ("comment", "😀" * 4000), ("comment", "")])

    def test_comment_escapes_count_as_characters(self):
        text = raw_survey(csat="4", comment='"' + "\\u00e9" * 4000 + '"')
        self.assertEqual(self.create(text)["comment"], "é" * 4000)
        self.reject(raw_survey(csat="4", comment='"' + "\\u00e9" * 4001 + '"'), ["comment"])
        # A surrogate pair escape is one character.
        text = raw_survey(csat="4", comment='"' + "\\ud83d\\ude00" * 4000 + '"')
        self.assertEqual(self.create(text)["comment"], "😀" * 4000)

    def test_tags(self):
        self.check_rejected([("tags", "billing"), ("tags", [""]), ("tags", ["x" * 65]),
                             ("tags", ["é" * 65]), ("tags", [1]), ("tags", [None]),
                             ("tags", [["a"]]), ("tags", {"a": "b"}),
                             ("tags", [f"t{i}" for i in range(21)])])
        self.check_accepted([("tags", []), ("tags", ["x"]), ("tags", ["x" * 64]),
                             ("tags", ["é" * 64]), ("tags", [f"t{i}" for i in range(20)])])

    def test_metadata(self):
        self.check_rejected([("metadata", ["a"]), ("metadata", "a"), ("metadata", {"k": 1}),
                             ("metadata", {"k": True}), ("metadata", {"k": {"a": "b"}}),
                             ("metadata", {"k": ["a"]}), ("metadata", {"k": "x" * 257}),
                             ("metadata", {"k": "é" * 257}),
                             ("metadata", {f"k{i}": "v" for i in range(21)})])
        self.check_accepted([("metadata", {}), ("metadata", {"k": ""}),
                             ("metadata", {"k": "x" * 256}), ("metadata", {"k": "é" * 256}),
                             ("metadata", {f"k{i}": "v" for i in range(20)})])

    def test_client_id(self):
        self.check_rejected([("id", v) for v in ("not-a-uuid", "", 5, uuid.uuid4().hex,
                                                 "{" + str(uuid.uuid4()) + "}",
                                                 str(uuid.uuid4())[:-1] + "g")])

    def test_submitted_at_range(self):
        now = utcnow()
        self.check_rejected([("submitted_at", iso(now + 10 * MINUTE)),
                             ("submitted_at", iso(now + 400 * DAY)),
                             ("submitted_at", iso(now - 731 * DAY))])
        self.check_accepted([("submitted_at", iso(now + 2 * MINUTE)),
                             ("submitted_at", iso(now - 729 * DAY)),
                             ("submitted_at", iso(now - 3 * DAY))])

    def test_submitted_at_format(self):
        y = utcnow().year - 1
        self.check_rejected([("submitted_at", v) for v in (
            f"{y}-02-30T10:00:00Z", f"{y}-04-31T10:00:00Z", f"{y}-13-01T10:00:00Z",
            f"{y}-06-01T24:00:00Z", f"{y}-06-01T10:60:00Z", f"{y}-06-01T10:00:00",
            f"{y}-06-01", f"{y}-06-01T10:00:00+25:00", f"{y}-06-01T10:00Z", "yesterday", "",
            1700000000)])

    def test_unknown_fields_are_422(self):
        for name in ("csta", "Csat", "CUSTOMER_ID", "score", "type_", "extra"):
            with self.subTest(name):
                self.reject(survey(**{name: 5}), [name])

    def test_nul_in_a_string_is_422(self):
        for body in (survey(customer_id="a\u0000b"), survey(comment="before\u0000after"),
                     survey(tags=["a\u0000"]), survey(metadata={"k": "\u0000"}),
                     survey(metadata={"k\u0000": "v"})):
            with self.subTest(short(body)):
                self.reject(body)

    def test_one_outcome_is_required(self):
        self.reject(survey(csat=OMIT))
        self.reject(survey(csat=None, nps=None, expectation=None, effort=3, resolved=True))

    def test_all_violations_are_reported_together(self):
        body = {"customer_id": "", "channel": "fax", "csat": 9, "effort": 0, "tags": "x",
                "metadata": {"k": 1}, "comment": "x" * 4001, "colour": "red"}
        problem = self.reject(body).body
        self.assert_fields_reported(problem, ["customer_id", "channel", "csat", "effort", "tags",
                                              "metadata", "comment", "colour"])

    def test_nps_rules(self):
        self.check_rejected([("score", v) for v in (OMIT, None, -1, 11, 10.5, "9", True)],
                            make=nps, path="/v1/nps")
        for name in ("csat", "nps", "expectation", "contact_id", "agent_id", "effort",
                     "resolved"):
            with self.subTest(unknown=name):
                self.reject(nps(**{name: 3}), [name], path="/v1/nps")
        self.check_rejected([("customer_id", ""), ("customer_id", "x" * 129),
                             ("channel", "fax"), ("comment", "x" * 4001), ("segment", "x" * 65),
                             ("tags", [""]), ("submitted_at", iso(utcnow() + DAY))],
                            make=nps, path="/v1/nps")
        self.reject('{"customer_id": "c-1", "score": 1e999}', ["score"], path="/v1/nps")

    def test_nps_limits_are_accepted(self):
        self.check_accepted([("score", 0), ("score", 10), ("comment", "€" * 4000),
                             ("segment", "é" * 64), ("tags", [f"t{i}" for i in range(20)])],
                            make=nps, path="/v1/nps")


class IdempotencyKeyTest(ApiTestCase):

    def post(self, body, idem_key, key="ingest"):
        return self.request("POST", "/v1/surveys", body, key=key,
                            headers={"Idempotency-Key": idem_key})

    def test_invalid_idempotency_key_is_400(self):
        for value in ("", "x" * 256, "ab\x01cd", "ab\x7fcd", "ab\tcd", "cl\xe9"):
            with self.subTest(value=short(value)):
                self.assert_rejected(400, "POST", "/v1/surveys", survey(),
                                     headers={"Idempotency-Key": value})

    def test_longest_idempotency_key_is_accepted(self):
        body = survey()
        resp = self.post(body, "k" * 255)
        record = self.assert_json(resp, 201)
        self.assertEqual(record, self.expected_record(body, record))
        printable = "".join(chr(c) for c in range(0x21, 0x7F))
        self.assertEqual(self.post(survey(), printable).status, 201)

    def test_replay_returns_the_original_result(self):
        key = str(uuid.uuid4())
        body = survey()
        first = self.post(body, key)
        record = self.assert_json(first, 201)
        again = self.post(body, key)
        self.assertEqual(again.status, 201)
        self.assertEqual(again.body, record)
        self.assertEqual(list_all(self.server, {"customer_id": body["customer_id"]}), [record])

    def test_same_key_different_body_is_422(self):
        key = str(uuid.uuid4())
        body = survey()
        self.assert_json(self.post(body, key), 201)
        self.assert_rejected(422, "POST", "/v1/surveys", dict(body, csat=1),
                             headers={"Idempotency-Key": key})

    def test_keys_are_scoped_to_the_api_key(self):
        key = str(uuid.uuid4())
        body = survey()
        first = self.assert_json(self.post(body, key), 201)
        second = self.assert_json(self.post(body, key, key="admin"), 201)
        self.assertNotEqual(first["id"], second["id"])

    def test_rejected_request_leaves_no_key_behind(self):
        key = str(uuid.uuid4())
        self.assert_problem(self.post(survey(csat=99), key), 422)
        body = survey()
        record = self.assert_json(self.post(body, key), 201)
        self.assertEqual(record, self.expected_record(body, record))


class ContentTest(ApiTestCase):
    """Strings and times come back exactly as meant."""

    TRICKY = ("Robert'); DROP TABLE submissions;-- \" ' ` \\ % _ * ? ; /* */ "
              "Grüße, 日本語, Ελληνικά, עברית, emoji 😀🎉👩‍👩‍👧, e\u0301, \u200b\u202e\ufeff, "
              "\uffff, \x01\x1f\x7f, tab\tnewline\nreturn\r")

    def test_comment_with_sql_and_unicode_round_trips(self):
        body = survey(comment=self.TRICKY, tags=["'; --", "😀"], metadata={"q'": "\"; DROP"})
        record = self.create(body)
        self.assertEqual(record["comment"], self.TRICKY)
        self.assertEqual(record, self.expected_record(body, record))
        self.assertEqual(self.get_record(record["id"]), record)

    def test_escaped_and_raw_utf8_store_the_same_text(self):
        raw = survey(comment="Grüße 😀")
        escaped = json.dumps(survey(comment="Grüße 😀"), ensure_ascii=True)
        self.assertEqual(self.create(raw)["comment"], self.create(escaped)["comment"])

    def test_customer_id_with_sql_metacharacters_filters_exactly(self):
        tag = uuid.uuid4().hex[:8]
        ids = [f"{tag}' OR '1'='1", f"{tag}%", f"{tag}_", f"{tag}x", f"{tag}\\"]
        records = {cid: self.create(survey(customer_id=cid)) for cid in ids}
        for cid in ids:
            with self.subTest(cid):
                self.assertEqual(list_all(self.server, {"customer_id": cid}), [records[cid]])
                self.assertEqual(self.get_record(records[cid]["id"])["customer_id"], cid)

    def test_offsets_are_returned_in_utc(self):
        day = (utcnow() - 3 * DAY).date()
        for hours, minutes in ((2, 0), (-5, -30), (0, 0), (14, 0)):
            offset = datetime.timezone(datetime.timedelta(hours=hours, minutes=minutes))
            local = datetime.datetime(day.year, day.month, day.day, 12, 0, 0, tzinfo=offset)
            with self.subTest(local.isoformat()):
                record = self.create(survey(submitted_at=local.isoformat()))
                self.assertEqual(record["submitted_at"], iso(local))

    def test_fraction_and_lowercase_designators_are_accepted(self):
        t = utcnow() - 3 * DAY
        for text in (t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), t.strftime("%Y-%m-%dt%H:%M:%Sz")):
            with self.subTest(text):
                self.assertEqual(self.create(survey(submitted_at=text))["submitted_at"], iso(t))


class LoggingTest(ApiTestCase):

    def test_log_lines_are_json_objects(self):
        self.request("GET", "/healthz", key=None)
        self.create(survey())
        self.request("GET", "/v1/nope", key="admin")
        for raw, line in zip(self.server.log_lines, self.server.logs):
            with self.subTest(raw):
                self.assertIsInstance(line, dict)
                self.assertIn(line.get("level"), ("debug", "info", "warn", "error"))
                self.assertIsInstance(line.get("msg"), str)
                self.assertIsInstance(line.get("time"), str)
                self.assertTrue(line["time"].endswith("Z"), line["time"])

    def test_requests_are_logged(self):
        self.assert_problem(self.request("POST", "/v1/surveys", survey(csat=0)), 422)
        line = self.server.wait_for_log(lambda l: l.get("status") == 422)
        self.assertIsNotNone(line, self.server.stderr_text)
        for name in ("request_id", "route", "status"):
            self.assertIn(name, line)
        self.assertTrue(any(name.startswith("duration") for name in line), line)

    def test_api_keys_are_never_logged(self):
        secret = "zz_unknown_key_zz"
        for key in ("ingest", "read", "admin"):
            self.request("POST", "/v1/surveys", survey(), key=key)
            self.request("GET", "/v1/responses", key=key)
        self.request("GET", "/v1/responses", key="Bearer " + secret)
        self.assertIsNotNone(self.server.wait_for_log(lambda l: l.get("status") == 401),
                             self.server.stderr_text)
        text = self.server.stderr_text
        for key in (*KEYS.values(), secret):
            self.assertNotIn(key, text)


# ---------------------------------------------------------------- lifecycle

class DurabilityTest(ApiTestCase):
    """Each test starts (and restarts) its own server."""

    @classmethod
    def setUpClass(cls):
        pass

    def start_server(self):
        server = Server()
        self.addCleanup(server.close)
        self.server = server
        return server.start()

    def test_records_survive_a_restart(self):
        server = self.start_server()
        survey_record = self.create(full_survey())
        nps_record = self.create(full_nps(), path="/v1/nps")
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        server.start()
        self.assertEqual(self.get_record(survey_record["id"]), survey_record)
        self.assertEqual(self.get_record(nps_record["id"]), nps_record)
        self.assertEqual(list_all(server), newest_first([survey_record, nps_record]))

    def test_sigint_exits_cleanly(self):
        server = self.start_server()
        record = self.create(survey())
        self.assertEqual(server.stop(signal.SIGINT), 0)
        server.start()
        self.assertEqual(self.get_record(record["id"]), record)

    def test_sigterm_is_not_held_by_an_unfinished_body(self):
        # A client that announced more body than it sent and half-closed
        # (libmicrohttpd 0.9.75 keeps waiting for the rest) must not hold the
        # shutdown for the whole drain timeout.
        server = self.start_server()
        conn, _ = self.start_unfinished_upload(server)
        conn.shutdown_write()
        time.sleep(0.2)
        started = time.monotonic()
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - started, 5, "shutdown waited for a dead upload")

    def start_unfinished_upload(self, server):
        """Send a survey announcing 100 bytes more than it holds: an upload
        that never completes, which holds a drain for its grace period.
        Returns the connection and the survey body."""
        data = json.dumps(survey()).encode()
        upload = server.raw_connection(timeout=5)
        self.addCleanup(upload.close)
        upload.send(harness.build_request("POST", "/v1/surveys", data, [
            ("Content-Type", "application/json"), ("Content-Length", str(len(data) + 100))],
            key="ingest"))
        return upload, data

    def test_a_request_begun_while_draining_is_refused(self):
        # A connection accepted before SIGTERM whose request begins during
        # the drain gets 503 and a close, and never reaches a handler: one
        # that suspended for the writer after the drain had seen nothing
        # active made libmicrohttpd abort at stop.
        server = self.start_server()
        _, data = self.start_unfinished_upload(server)
        late = server.raw_connection(timeout=5)
        self.addCleanup(late.close)
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        late.send(harness.build_request("POST", "/v1/surveys", data, [
            ("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
            key="ingest"))
        resp = late.read_response()
        self.assertIsNotNone(resp, "no answer to a request begun while draining")
        self.assertEqual(resp.status, 503, resp.body)
        self.assertEqual(resp.headers.get("connection", "").lower(), "close")
        self.assertEqual(resp.headers.get("retry-after"), "1")
        self.assertEqual(media_type(resp.headers.get("content-type")), "application/problem+json")
        self.assertTrue(late.is_closed(wait=2), "connection left open after the 503")
        self.assertEqual(server.stop(signal.SIGTERM), 0)
        server.start()
        self.assertEqual(list_all(server), [], "a request refused while draining was stored")

    def test_new_connections_are_refused_while_draining(self):
        # From SIGTERM on nothing accepts: a client (or a load balancer) is
        # refused at once and goes elsewhere, while the drain still waits
        # for an upload in progress.
        server = self.start_server()
        self.start_unfinished_upload(server)
        time.sleep(0.2)
        port = server.port
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertIsNone(server.proc.poll(), "the drain did not wait for the upload")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((harness.HOST, port), timeout=2).close()
        self.assertEqual(server.stop(signal.SIGTERM), 0)

    def test_sigterm_with_requests_in_flight_keeps_every_201(self):
        server = self.start_server()
        created, unexpected = [], []
        lock = threading.Lock()
        done = threading.Event()

        def client():
            while not done.is_set():
                try:
                    resp = server.request("POST", "/v1/surveys", survey(), timeout=15)
                except (OSError, http.client.HTTPException):
                    return  # refused or cut off: the server is going away
                with lock:
                    if resp.status == 201:
                        created.append(resp.body)
                    elif resp.status != 503:
                        unexpected.append((resp.status, resp.body))
                if resp.status == 503:
                    return

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 5
        while len(created) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            rc = server.stop(signal.SIGTERM)
        finally:
            done.set()
            for t in threads:
                t.join(20)
        self.assertEqual(rc, 0, server.stderr_text)
        self.assertEqual(unexpected, [])
        self.assertTrue(created, "no request succeeded before SIGTERM")
        server.start()
        stored = {r["id"]: r for r in list_all(server)}
        for record in created:
            self.assertEqual(stored.get(record["id"]), record)


if __name__ == "__main__":
    harness.main()
