#!/usr/bin/env python3
"""Dashboards over HTTP: summary, trend and breakdown on crafted data.

Every expected figure below is worked out by hand from the table of
submissions in `load()`; the comments show the arithmetic. Usage:
test_dashboard.py path/to/feedbackd
"""
import datetime
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DAY = 86400
HOUR = 3600
ENV = {'FEEDBACKD_SYNC': 'normal', 'FEEDBACKD_LOG_LEVEL': 'info'}
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print('FAIL:', what, file=sys.stderr)


def eq(got, want, what):
    check(got == want, f'{what}: got {got!r}, want {want!r}')


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    return int(datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc).timestamp())


def midnight(t):
    return t - t % DAY


# Reference days, all in the past and inside the 730-day ingest window.
NOW = int(time.time())
_d = midnight(NOW - 60 * DAY)
D0 = _d - ((_d // DAY + 3) % 7) * DAY        # a Monday at 00:00 UTC, ~60 days ago
_m = datetime.datetime.fromtimestamp(NOW - 120 * DAY, datetime.timezone.utc)
M = int(datetime.datetime(_m.year, _m.month, 1, tzinfo=datetime.timezone.utc).timestamp())


def at(day, hours=0):
    return D0 + day * DAY + hours * HOUR


def load(srv):
    """The data set. c1's segment is vip (from s1), c3's basic (from s4)."""
    surveys = [
        # s1: day 0 10:00, c1, chat, a1, vip
        dict(customer_id='c1', channel='chat', agent_id='a1', segment='vip',
             submitted_at=iso(at(0, 10)), nps=10, csat=5, effort=2,
             expectation='exceeded', resolved=True),
        # s2: day 0 20:00, c1, phone, a2 (segment from customer: vip)
        dict(customer_id='c1', channel='phone', agent_id='a2', submitted_at=iso(at(0, 20)),
             nps=6, csat=2, effort=5, expectation='below', resolved=False),
        # s3: day 1 09:00, c2, chat, a1, no segment
        dict(customer_id='c2', channel='chat', agent_id='a1', submitted_at=iso(at(1, 9)),
             nps=8, csat=4, expectation='met', resolved=True),
        # s4: day 2 12:00, c3, email, no agent, basic
        dict(customer_id='c3', channel='email', segment='basic', submitted_at=iso(at(2, 12)),
             csat=3, effort=7, expectation='met'),
        # s5: day 7 (Monday) 08:00, c3, chat, a2 (basic)
        dict(customer_id='c3', channel='chat', agent_id='a2', submitted_at=iso(at(7, 8)),
             nps=0, resolved=True, expectation='below'),
        # s6: day 8 06:00, c1, chat, a1 (vip)
        dict(customer_id='c1', channel='chat', agent_id='a1', submitted_at=iso(at(8, 6)),
             nps=9, csat=5),
        # s7: day 8 05:00, c3, chat, a1 (basic)
        dict(customer_id='c3', channel='chat', agent_id='a1', submitted_at=iso(at(8, 5)),
             csat=5),
        # s8, s9: c4 around the month boundary M, web
        dict(customer_id='c4', channel='web', submitted_at=iso(M - DAY + 23 * HOUR), nps=10),
        dict(customer_id='c4', channel='web', submitted_at=iso(M + HOUR), nps=0),
        # s10: c5, two days ago; s11: c5, now (default submitted_at)
        dict(customer_id='c5', channel='mobile', submitted_at=iso(NOW - 2 * DAY), nps=9),
        dict(customer_id='c5', channel='mobile', csat=4),
    ]
    for i, s in enumerate(surveys):
        st, _, body = srv.request('POST', '/v1/surveys', s, key='ingest')
        eq(st, 201, f'store survey {i}: {body}')
    # n1: day 1 15:00, c2, email, NPS rating 9
    st, _, body = srv.request('POST', '/v1/nps', dict(customer_id='c2', channel='email', score=9,
                                                      submitted_at=iso(at(1, 15))), key='ingest')
    eq(st, 201, f'store nps: {body}')


def summary(srv, **params):
    st, _, body = srv.request('GET', '/v1/dashboard/summary', params=params)
    eq(st, 200, f'summary {params}: {body}')
    return body or {}


def test_summary_whole_days(srv):
    # [day 0, day 3): s1, s2, s3, n1, s4; customers c1, c2, c3
    b = summary(srv, since=iso(at(0)), until=iso(at(3)))
    eq(b['since'], iso(at(0)), 'since echoed')
    eq(b['responses'], 5, 'responses')
    eq(b['customers'], 3, 'customers')
    # NPS: 10 P, 6 D, 8 Pa, 9 P -> 100 * (2 - 1) / 4 = 25.0
    # margin: n'=7, p=2.75/7=.392857, d=1.75/7=.25, var=(.642857-.020408)/7=.088921,
    # 1.959964 * 100 * sqrt(var) = 58.445 -> 58.4
    eq(b['nps'], {'score': 25.0, 'count': 4, 'margin_of_error': 58.4, 'promoters': 2,
                  'passives': 1, 'detractors': 1}, 'nps')
    # CSAT 5, 2, 4, 3: 2 of 4 positive = 50.0; mean 14 / 4 = 3.5
    eq(b['csat'], {'score': 50.0, 'count': 4, 'mean': 3.5}, 'csat')
    # effort 2, 5, 7: 14 / 3 = 4.67
    eq(b['effort'], {'mean': 4.67, 'count': 3}, 'effort')
    eq(b['expectation'], {'below': 1, 'met': 2, 'exceeded': 1}, 'expectation')
    # resolved true, false, true: 2 / 3 = 0.667
    eq(b['resolved'], {'rate': 0.667, 'count': 3}, 'resolved')
    levels = b['levels']
    eq(sorted(levels), sorted(['below_expectations', 'expected', 'exceeded', 'delighted',
                               'loyal', 'unrated']), 'level names')
    # all five customers, whatever the scoring worker has computed by now
    eq(sum(levels.values()), 5, 'levels cover every known customer')
    check(0 <= b['at_risk_customers'] <= 5, 'at_risk_customers in range')


def test_summary_partial_days(srv):
    # [day 0 12:00, day 1 12:00): s2 (c1), s3 (c2) - no whole day at all
    b = summary(srv, since=iso(at(0, 12)), until=iso(at(1, 12)))
    eq(b['responses'], 2, 'partial: responses')
    eq(b['customers'], 2, 'partial: customers')
    # 6 D, 8 Pa -> -50.0; margin n'=5, p=.15, d=.35, var=(.5-.04)/5=.092,
    # 195.9964 * .303315 = 59.449 -> 59.4
    eq(b['nps'], {'score': -50.0, 'count': 2, 'margin_of_error': 59.4, 'promoters': 0,
                  'passives': 1, 'detractors': 1}, 'partial: nps')
    eq(b['csat'], {'score': 50.0, 'count': 2, 'mean': 3.0}, 'partial: csat')

    # [day 0 15:00, day 8 07:00): head s2 (c1); whole days 1..7: s3, n1 (c2), s4, s5 (c3);
    # tail s7 (c3, 05:00), s6 (c1, 06:00). c1 is in head and tail only, c3 in both
    # whole days and tail: 3 distinct customers, 7 responses.
    b = summary(srv, since=iso(at(0, 15)), until=iso(at(8, 7)))
    eq(b['responses'], 7, 'ragged: responses')
    eq(b['customers'], 3, 'ragged: customers')
    # 6 D, 8 Pa, 9 P, 0 D, 9 P -> 100 * (2 - 2) / 5 = 0.0
    eq(b['nps']['score'], 0.0, 'ragged: nps')
    eq(b['nps']['count'], 5, 'ragged: nps count')
    # csat 2, 4, 3, 5, 5 -> 3 of 5 = 60.0, mean 19 / 5 = 3.8
    eq(b['csat'], {'score': 60.0, 'count': 5, 'mean': 3.8}, 'ragged: csat')
    # one second less at the end drops nothing, one second more at the start drops s2? no:
    # s2 is at 20:00; starting at 20:00:01 drops it (and c1 stays through the tail)
    b = summary(srv, since=iso(at(0, 20) + 1), until=iso(at(8, 7)))
    eq(b['responses'], 6, 'ragged: s2 excluded one second after it')
    eq(b['customers'], 3, 'ragged: c1 still counted from the tail')
    b = summary(srv, since=iso(at(0, 20)), until=iso(at(8, 5)))
    eq(b['responses'], 5, 'until is exclusive: s7 at 05:00 and s6 excluded')
    eq(b['customers'], 3, 'until exclusive: customers c1 (head), c2, c3')


def test_filters(srv):
    whole = dict(since=iso(at(0)), until=iso(at(9)))
    # chat: s1, s3, s5, s6, s7; customers c1, c2, c3; NPS 10 P, 8 Pa, 0 D, 9 P -> 25.0
    b = summary(srv, channel='chat', **whole)
    eq((b['responses'], b['customers'], b['nps']['score']), (5, 3, 25.0), 'channel=chat')
    eq(b['csat'], {'score': 100.0, 'count': 4, 'mean': 4.75}, 'channel=chat csat (5,4,5,5)')
    # a1: s1, s3, s6, s7; NPS 10 P, 8 Pa, 9 P -> 66.7
    b = summary(srv, agent_id='a1', **whole)
    eq((b['responses'], b['customers'], b['nps']['score']), (4, 3, 66.7), 'agent_id=a1')
    # vip: s1, s2, s6 (all c1); NPS 10 P, 6 D, 9 P -> 33.3
    b = summary(srv, segment='vip', **whole)
    eq((b['responses'], b['customers'], b['nps']['score']), (3, 1, 33.3), 'segment=vip')
    eq(sum(b['levels'].values()), 1, 'segment=vip: levels count c1 only')
    # combined filters read the all-dimensions view
    b = summary(srv, channel='chat', agent_id='a1', **whole)
    eq((b['responses'], b['customers']), (4, 3), 'chat + a1')
    b = summary(srv, agent_id='a2', segment='basic', **whole)
    eq((b['responses'], b['customers'], b['nps']['score']), (1, 1, -100.0), 'a2 + basic: s5')
    b = summary(srv, channel='chat', segment='vip', **whole)
    eq((b['responses'], b['customers'], b['nps']['score']), (2, 1, 100.0), 'chat + vip: s1, s6')
    b = summary(srv, channel='chat', agent_id='a1', segment='basic', **whole)
    eq((b['responses'], b['customers']), (1, 1), 'chat + a1 + basic: s7')
    # filters with ragged bounds [day 0 15:00, day 8 07:00)
    ragged = dict(since=iso(at(0, 15)), until=iso(at(8, 7)))
    b = summary(srv, segment='vip', **ragged)
    eq((b['responses'], b['customers']), (2, 1), 'vip ragged: s2 head, s6 tail, one customer')
    b = summary(srv, channel='chat', agent_id='a1', **ragged)
    eq((b['responses'], b['customers']), (3, 3), 'chat+a1 ragged: s3, s6, s7')
    b = summary(srv, channel='chat', **ragged)
    # s3 (c2), s5 (c3, day 7), s6 (c1), s7 (c3 again, tail) -> 4 responses, 3 customers
    eq((b['responses'], b['customers']), (4, 3), 'chat ragged')
    b = summary(srv, channel='phone', **whole)
    eq((b['responses'], b['customers'], b['nps']['score']), (1, 1, -100.0), 'channel=phone')
    b = summary(srv, channel='social', **whole)
    eq((b['responses'], b['customers'], b['nps']['score']), (0, 0, None), 'channel=social: empty')


def test_empty_and_default(srv):
    b = summary(srv, since=iso(at(-10)), until=iso(at(-5)))
    eq(b['responses'], 0, 'empty: responses')
    eq(b['customers'], 0, 'empty: customers')
    eq(b['nps'], {'score': None, 'count': 0, 'margin_of_error': None, 'promoters': 0,
                  'passives': 0, 'detractors': 0}, 'empty: nps')
    eq(b['csat'], {'score': None, 'count': 0, 'mean': None}, 'empty: csat')
    eq(b['effort'], {'mean': None, 'count': 0}, 'empty: effort')
    eq(b['resolved'], {'rate': None, 'count': 0}, 'empty: resolved')
    # default: the last 30 days hold s10 (nps 9) and s11 (csat 4) of c5
    b = summary(srv)
    eq((b['responses'], b['customers']), (2, 1), 'default period')
    eq(b['nps']['score'], 100.0, 'default period: nps')
    eq(b['csat']['score'], 100.0, 'default period: csat')
    until = datetime.datetime.strptime(b['until'], '%Y-%m-%dT%H:%M:%SZ')
    since = datetime.datetime.strptime(b['since'], '%Y-%m-%dT%H:%M:%SZ')
    eq((until - since).total_seconds(), 30 * DAY, 'default period is 30 days')
    check(abs(until.replace(tzinfo=datetime.timezone.utc).timestamp() - time.time()) < 60,
          'default until is now')
    # only since: until defaults to now; only until: since is 30 days before it
    b = summary(srv, since=iso(NOW - 3 * DAY))
    eq(b['responses'], 2, 'since only')
    b = summary(srv, until=iso(at(9)))
    # [day 9 - 30 days, day 9): all of D0's data, none of M's
    eq(b['responses'], 8, 'until only')


def trend(srv, **params):
    st, _, body = srv.request('GET', '/v1/dashboard/trend', params=params)
    eq(st, 200, f'trend {params}: {body}')
    return (body or {}).get('points', [])


def test_trend(srv):
    pts = trend(srv, metric='nps', since=iso(at(0)), until=iso(at(9)))
    eq([p['start'] for p in pts], [iso(at(d)) for d in range(9)], 'daily starts')
    # day 0: 10 P, 6 D -> 0.0; day 1: 8 Pa, 9 P -> 50.0; days 2..6 empty;
    # day 7: 0 D -> -100.0; day 8: 9 P -> 100.0
    eq([p['value'] for p in pts], [0.0, 50.0, None, None, None, None, None, -100.0, 100.0],
       'daily nps values')
    eq([p['count'] for p in pts], [2, 2, 0, 0, 0, 0, 0, 1, 1], 'daily nps counts')
    # one promoter alone: n'=4, p=.4375, d=.1875 -> 73.5; empty -> null
    eq(pts[8]['margin_of_error'], 73.5, 'margin of a single rating')
    eq(pts[3]['margin_of_error'], None, 'margin of an empty day')

    # ISO weeks: [D0, D0+7d) holds 10 P, 6 D, 8 Pa, 9 P -> 25.0; the next: 0 D, 9 P -> 0.0
    pts = trend(srv, metric='nps', interval='week', since=iso(at(0)), until=iso(at(9)))
    eq([(p['start'], p['value'], p['count']) for p in pts],
       [(iso(at(0)), 25.0, 4), (iso(at(7)), 0.0, 2)], 'weekly nps')
    # Sunday noon .. Monday noon spans two ISO weeks: the first empty, the second s1 only
    pts = trend(srv, metric='nps', interval='week', since=iso(at(-1, 12)), until=iso(at(0, 12)))
    eq([(p['start'], p['value'], p['count']) for p in pts],
       [(iso(at(-7)), None, 0), (iso(at(0)), 100.0, 1)], 'week boundary')

    # responses with ragged bounds [day 0 15:00, day 2 13:00): s2 | s3, n1 | s4
    pts = trend(srv, metric='responses', since=iso(at(0, 15)), until=iso(at(2, 13)))
    eq([(p['start'], p['value'], p['count']) for p in pts],
       [(iso(at(0)), 1, 1), (iso(at(1)), 2, 2), (iso(at(2)), 1, 1)], 'ragged responses')
    # until on midnight: the day starting at until is not part of the period
    pts = trend(srv, metric='csat', since=iso(at(0)), until=iso(at(2)))
    # day 0: 5, 2 -> 50.0; day 1: 4 -> 100.0
    eq([(p['value'], p['count']) for p in pts], [(50.0, 2), (100.0, 1)], 'daily csat')
    pts = trend(srv, metric='effort', since=iso(at(0)), until=iso(at(1)))
    eq([(p['value'], p['count']) for p in pts], [(3.5, 2)], 'effort 2 and 5')
    check('margin_of_error' not in pts[0], 'no margin on non-NPS metrics')

    # calendar months: the last day of one month and the first of the next
    prev_month = datetime.datetime.fromtimestamp(M - DAY, datetime.timezone.utc)
    pts = trend(srv, metric='nps', interval='month', since=iso(M - DAY), until=iso(M + DAY))
    eq([(p['start'], p['value'], p['count']) for p in pts],
       [(prev_month.strftime('%Y-%m-01T00:00:00Z'), 100.0, 1), (iso(M), -100.0, 1)],
       'month boundary')
    # filtered trend: chat only over the first week -> s1 P, s3 Pa -> 50.0
    pts = trend(srv, metric='nps', interval='week', channel='chat', since=iso(at(0)),
                until=iso(at(7)))
    eq([(p['value'], p['count']) for p in pts], [(50.0, 2)], 'filtered weekly trend')
    # default period and interval: 30 or 31 daily points ending today
    pts = trend(srv, metric='responses')
    check(len(pts) in (30, 31), f'default trend has {len(pts)} points')
    eq(sum(p['count'] for p in pts), 2, 'default trend counts s10 and s11')
    eq(pts[-1]['start'], iso(midnight(int(time.time()) - 1)), 'default trend ends today')


def test_point_limit(srv):
    # 2020-01-01 .. 2022-09-27 is 366 + 365 + 269 = 1000 days
    pts = trend(srv, metric='responses', since='2020-01-01T00:00:00Z',
                until='2022-09-27T00:00:00Z')
    eq(len(pts), 1000, '1000 points are allowed')
    st, hdr, body = srv.request('GET', '/v1/dashboard/trend', params=dict(
        metric='responses', since='2020-01-01T00:00:00Z', until='2022-09-27T00:00:01Z'))
    eq(st, 422, '1001 points are refused')
    eq(hdr.get('Content-Type'), 'application/problem+json', 'problem+json')
    st, _, _ = srv.request('GET', '/v1/dashboard/trend', params=dict(
        metric='responses', interval='month', since='2020-01-01T00:00:00Z',
        until='2022-09-27T00:00:01Z'))
    eq(st, 200, 'the same period by month is fine')


def breakdown(srv, **params):
    st, _, body = srv.request('GET', '/v1/dashboard/breakdown', params=params)
    eq(st, 200, f'breakdown {params}: {body}')
    return (body or {}).get('data', [])


def test_breakdown(srv):
    whole = dict(since=iso(at(0)), until=iso(at(9)))
    rows = breakdown(srv, by='channel', **whole)
    # chat s1 s3 s5 s6 s7; email n1 s4; phone s2
    eq([(r['key'], r['count']) for r in rows], [('chat', 5), ('email', 2), ('phone', 1)],
       'by channel')
    # chat NPS 10, 8, 0, 9 -> 25.0, margin as in the summary (P2, D1, n4) = 58.4;
    # CSAT 5, 4, 5, 5 -> 100.0
    eq(rows[0]['nps'], {'score': 25.0, 'count': 4, 'margin_of_error': 58.4}, 'chat nps')
    eq(rows[0]['csat'], {'score': 100.0, 'count': 4}, 'chat csat')
    eq(rows[1]['nps'], {'score': 100.0, 'count': 1, 'margin_of_error': 73.5}, 'email nps (n1)')
    eq(rows[1]['csat'], {'score': 0.0, 'count': 1}, 'email csat (s4: 3)')
    eq(rows[2]['nps']['score'], -100.0, 'phone nps (s2: 6)')
    # agents: a1 s1 s3 s6 s7; a2 s2 s5; none n1 s4 (ties by key, no agent last)
    rows = breakdown(srv, by='agent', **whole)
    eq([(r['key'], r['count']) for r in rows], [('a1', 4), ('a2', 2), (None, 2)], 'by agent')
    # segments: basic s4 s5 s7; vip s1 s2 s6; none s3 n1 (c2)
    rows = breakdown(srv, by='segment', **whole)
    eq([(r['key'], r['count']) for r in rows], [('basic', 3), ('vip', 3), (None, 2)],
       'by segment')
    eq(rows[0]['csat'], {'score': 50.0, 'count': 2}, 'basic csat: 3, 5')
    # ragged [day 0 15:00, day 8 07:00): phone s2 (head); chat s3 s5 + s6 s7 (tail);
    # email n1 s4
    rows = breakdown(srv, by='channel', since=iso(at(0, 15)), until=iso(at(8, 7)))
    eq([(r['key'], r['count']) for r in rows], [('chat', 4), ('email', 2), ('phone', 1)],
       'ragged by channel')
    # within one day
    rows = breakdown(srv, by='agent', since=iso(at(0, 9)), until=iso(at(0, 21)))
    eq([(r['key'], r['count']) for r in rows], [('a1', 1), ('a2', 1)], 'one day by agent')
    eq(breakdown(srv, by='channel', since=iso(at(-10)), until=iso(at(-5))), [], 'empty')


def test_validation(srv):
    cases = [
        ('/v1/dashboard/summary', {'chanel': 'chat'}, 'chanel'),
        ('/v1/dashboard/summary', {'since': 'yesterday'}, 'since'),
        ('/v1/dashboard/summary', {'since': iso(at(2)), 'until': iso(at(1))}, 'since'),
        ('/v1/dashboard/summary', {'since': iso(at(1)), 'until': iso(at(1))}, 'since'),
        ('/v1/dashboard/summary', {'channel': 'fax'}, 'channel'),
        ('/v1/dashboard/summary', {'segment': ''}, 'segment'),
        ('/v1/dashboard/trend', {}, 'metric'),
        ('/v1/dashboard/trend', {'metric': 'loyalty'}, 'metric'),
        ('/v1/dashboard/trend', {'metric': 'nps', 'interval': 'year'}, 'interval'),
        ('/v1/dashboard/trend', {'metric': 'nps', 'limit': '5'}, 'limit'),
        ('/v1/dashboard/breakdown', {}, 'by'),
        ('/v1/dashboard/breakdown', {'by': 'customer'}, 'by'),
        ('/v1/dashboard/breakdown', {'by': 'channel', 'channel': 'chat'}, 'channel'),
    ]
    for path, params, field in cases:
        st, hdr, body = srv.request('GET', path, params=params)
        eq(st, 422, f'{path} {params}')
        eq(hdr.get('Content-Type'), 'application/problem+json', f'{path} {params} type')
        fields = [e['field'] for e in (body or {}).get('errors', [])]
        check(field in fields, f'{path} {params}: error names {field}: {fields}')
    st, _, _ = srv.request('GET', '/v1/dashboard/summary?since=' + iso(at(0)) + '&since='
                           + iso(at(1)))
    eq(st, 422, 'repeated parameter')
    eq(srv.request('GET', '/v1/dashboard/summary', key=None)[0], 401, 'no key')
    eq(srv.request('GET', '/v1/dashboard/summary', key='ingest')[0], 403, 'ingest key')
    eq(srv.request('GET', '/v1/dashboard/trend', key='admin', params={'metric': 'nps'})[0], 200,
       'admin key reads')
    eq(srv.request('POST', '/v1/dashboard/summary', {}, key='admin')[0], 405, 'POST not allowed')


def test_levels_from_profiles(srv, db_path):
    """Levels and at-risk counts follow the stored profiles (written here
    directly, as the scoring worker would) through migration 003's triggers."""
    srv.stop()
    db = sqlite3.connect(db_path)
    with db:
        db.execute("UPDATE customers SET level = 4, at_risk = 0 WHERE customer_id = 'c1'")
        db.execute("UPDATE customers SET level = 0, at_risk = 1 WHERE customer_id = 'c2'")
        db.execute("UPDATE customers SET level = 2, at_risk = 1 WHERE customer_id = 'c3'")
        db.execute("UPDATE customers SET level = NULL, at_risk = 0 WHERE customer_id = 'c4'")
        db.execute("UPDATE customers SET level = 1, at_risk = 0, segment = 'vip'"
                   " WHERE customer_id = 'c5'")
        # keep a scoring worker, if one runs, from recomputing them right away
        db.execute("UPDATE scoring_cursor SET seq = (SELECT max(seq) FROM submissions)")
        db.execute("UPDATE customers SET computed_at = ?, next_rescore_at = ?",
                   (int(time.time()), int(time.time()) + 3600))
    db.close()
    srv.start()
    b = summary(srv)
    eq(b['levels'], {'below_expectations': 1, 'expected': 1, 'exceeded': 1, 'delighted': 0,
                     'loyal': 1, 'unrated': 1}, 'levels from profiles')
    eq(b['at_risk_customers'], 2, 'at risk: c2, c3')
    b = summary(srv, segment='vip')
    eq(b['levels'], {'below_expectations': 0, 'expected': 1, 'exceeded': 0, 'delighted': 0,
                     'loyal': 1, 'unrated': 0}, 'vip levels: c1 loyal, c5 expected')
    eq(b['at_risk_customers'], 0, 'no vip at risk')


def test_against_model():
    """Random submissions, stored in random order (so customers' days arrive
    out of order), checked against a brute-force count of the same data for
    random periods with ragged bounds and every kind of filter."""
    import random
    rnd = random.Random(20261123)
    base = midnight(NOW - 400 * DAY)
    span = 20 * DAY
    channels = ['chat', 'email', 'phone']
    rows = []
    segment_of = {}
    srv = harness.Server(env=ENV)
    srv.start()
    try:
        for i in range(240):
            cust = f'm{rnd.randrange(12)}'
            s = dict(customer_id=cust, channel=rnd.choice(channels),
                     submitted_at=iso(base + rnd.randrange(span)),
                     nps=rnd.randrange(11))
            if rnd.random() < 0.6:
                s['agent_id'] = rnd.choice(['x', 'y'])
            if rnd.random() < 0.3:
                s['segment'] = rnd.choice(['gold', 'tin'])
            if rnd.random() < 0.5:
                s['csat'] = rnd.randrange(1, 6)
            st, _, body = srv.request('POST', '/v1/surveys', s, key='ingest')
            eq(st, 201, f'model store {i}: {body}')
            # the writer resolves the segment: carried, else the customer's
            if 'segment' in s:
                segment_of[cust] = s['segment']
            rows.append(dict(s, t=parse_time(s['submitted_at']),
                             seg=s.get('segment', segment_of.get(cust)),
                             agent=s.get('agent_id')))
        filters = [{}, {'channel': 'chat'}, {'agent_id': 'x'}, {'segment': 'gold'},
                   {'channel': 'email', 'agent_id': 'y'}, {'agent_id': 'x', 'segment': 'tin'},
                   {'channel': 'phone', 'segment': 'gold'},
                   {'channel': 'chat', 'agent_id': 'x', 'segment': 'gold'}]
        for _ in range(30):
            a = base - DAY + rnd.randrange(span + 2 * DAY)
            b = a + 1 + rnd.randrange(12 * DAY)
            f = rnd.choice(filters)
            sel = [r for r in rows if a <= r['t'] < b
                   and r['channel'] == f.get('channel', r['channel'])
                   and r['agent'] == f.get('agent_id', r['agent'])
                   and r['seg'] == f.get('segment', r['seg'])]
            got = summary(srv, since=iso(a), until=iso(b), **f)
            want_p = sum(r['nps'] >= 9 for r in sel)
            want_d = sum(r['nps'] <= 6 for r in sel)
            eq((got['responses'], got['customers'], got['nps']['promoters'],
                got['nps']['detractors'], got['csat']['count']),
               (len(sel), len({r['customer_id'] for r in sel}), want_p, want_d,
                sum('csat' in r for r in sel)), f'model summary {iso(a)} {iso(b)} {f}')
            pts = trend(srv, metric='responses', since=iso(a), until=iso(b), **f)
            eq(sum(p['count'] for p in pts), len(sel), f'model trend {iso(a)} {iso(b)} {f}')
            for p in pts:
                start = parse_time(p['start'])
                n = sum(start <= r['t'] < start + DAY for r in sel)
                eq(p['count'], n, f'model trend point {p["start"]}')
            by = rnd.choice(['channel', 'agent', 'segment'])
            field = {'channel': 'channel', 'agent': 'agent', 'segment': 'seg'}[by]
            every = [r for r in rows if a <= r['t'] < b]
            want = {}
            for r in every:
                want[r[field]] = want.get(r[field], 0) + 1
            got_rows = breakdown(srv, by=by, since=iso(a), until=iso(b))
            eq({r['key']: r['count'] for r in got_rows}, want,
               f'model breakdown {by} {iso(a)} {iso(b)}')
            counts = [r['count'] for r in got_rows]
            eq(counts, sorted(counts, reverse=True), 'breakdown ordered by count')
        # Whole-day customer counts are remembered per reader thread while the
        # days' response count is unchanged: a late submission (in a whole day,
        # by a new customer) must show at once, on every thread.
        period = dict(since=iso(base + 3 * HOUR), until=iso(base + 15 * DAY + 5 * HOUR))
        before = [summary(srv, **period) for _ in range(12)]
        check(len({(b['responses'], b['customers']) for b in before}) == 1,
              'repeated summaries agree')
        st, _, _ = srv.request('POST', '/v1/surveys', dict(
            customer_id='late', channel='chat', nps=9,
            submitted_at=iso(base + 5 * DAY + 7 * HOUR)), key='ingest')
        eq(st, 201, 'late submission stored')
        for _ in range(12):
            after = summary(srv, **period)
            eq((after['responses'], after['customers']),
               (before[0]['responses'] + 1, before[0]['customers'] + 1),
               'late submission counted at once')
    finally:
        srv.close()


OLD_CUSTOMER_DAYS = """
CREATE TABLE customer_days_006 (
    kind INTEGER NOT NULL, channel INTEGER NOT NULL, agent_id TEXT NOT NULL,
    segment TEXT NOT NULL, customer_id TEXT NOT NULL, day INTEGER NOT NULL,
    PRIMARY KEY (kind, channel, agent_id, segment, customer_id, day)) WITHOUT ROWID;
INSERT INTO customer_days_006 SELECT kind, channel, agent_id, segment, customer_id, day
    FROM customer_days;
INSERT INTO customer_days_006 SELECT DISTINCT 4, channel, coalesce(agent_id, ''),
    coalesce(segment, ''), customer_id, submitted_at / 86400 FROM submissions;
DROP TABLE customer_days;
ALTER TABLE customer_days_006 RENAME TO customer_days;
DROP INDEX idempotency_keys_by_location;
DELETE FROM schema_migrations WHERE version >= 7;
"""


def test_upgrade_007():
    """A database at schema 6 (customer_days keyed by view, with the
    combined view's rows) upgrades to 7: keyed by customer, no view 4 rows,
    the other rows kept, and every dashboard answer unchanged."""
    import random
    rnd = random.Random(7)
    base = midnight(NOW - 30 * DAY)
    srv = harness.Server(env=ENV)
    srv.start()
    try:
        for i in range(80):
            s = dict(customer_id=f'u{rnd.randrange(10)}', channel=rnd.choice(['chat', 'email']),
                     submitted_at=iso(base + rnd.randrange(10 * DAY)), nps=rnd.randrange(11))
            if rnd.random() < 0.7:
                s['agent_id'] = rnd.choice(['x', 'y'])
            if rnd.random() < 0.4:
                s['segment'] = rnd.choice(['gold', 'tin'])
            eq(srv.request('POST', '/v1/surveys', s, key='ingest')[0], 201, f'upgrade store {i}')
        queries = [dict(since=iso(base + rnd.randrange(5 * DAY)),
                        until=iso(base + 5 * DAY + rnd.randrange(6 * DAY)), **f)
                   for f in ({}, {'channel': 'chat'}, {'agent_id': 'x', 'segment': 'gold'},
                             {'channel': 'email', 'agent_id': 'y'}) for _ in range(3)]
        before = [summary(srv, **q) for q in queries]
        srv.stop()
        db = sqlite3.connect(srv.db_path)
        with db:
            db.executescript("BEGIN;" + OLD_CUSTOMER_DAYS + "COMMIT;")
        kept = db.execute("SELECT count(*) FROM customer_days WHERE kind < 4").fetchone()[0]
        check(db.execute("SELECT count(*) FROM customer_days WHERE kind = 4").fetchone()[0] > 0,
              'the schema-6 copy has view 4 rows')
        db.close()
        srv.start()
        db = sqlite3.connect(srv.db_path)
        try:
            sql = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'customer_days'"
                             ).fetchone()[0]
            check('PRIMARY KEY (customer_id, kind' in sql, f'customer_days keyed by customer: {sql}')
            eq(db.execute("SELECT count(*) FROM customer_days WHERE kind = 4").fetchone()[0], 0,
               'no view 4 customer-days after 007')
            eq(db.execute("SELECT count(*) FROM customer_days").fetchone()[0], kept,
               'views 0..3 customer-days kept')
        finally:
            db.close()
        # levels and at-risk counts follow the scoring worker, not the upgrade
        def figures(b):
            return {k: v for k, v in b.items() if k not in ('levels', 'at_risk_customers')}
        for q, b in zip(queries, before):
            eq(figures(summary(srv, **q)), figures(b), f'summary unchanged by the upgrade {q}')
    finally:
        srv.close()


OLD_TIME_INDEXES = """
DROP INDEX submissions_by_time;
CREATE INDEX submissions_by_time ON submissions (submitted_at DESC, id DESC);
DROP INDEX submissions_for_dashboards;
CREATE INDEX submissions_for_dashboards ON submissions (submitted_at, channel, agent_id,
    segment, customer_id, nps, csat, effort, expectation, resolved);
DELETE FROM schema_migrations WHERE version >= 9;
"""


def responses_pages(srv, **params):
    """Every id of /v1/responses, following next_cursor in pages of 7."""
    ids, cursor = [], None
    for _ in range(100):
        q = dict(params, limit=7, **({'cursor': cursor} if cursor else {}))
        st, _, body = srv.request('GET', '/v1/responses', params=q, key='read')
        eq(st, 200, f'responses {q}: {body}')
        ids += [r['id'] for r in (body or {}).get('data', [])]
        cursor = (body or {}).get('next_cursor')
        if not cursor:
            break
    return ids


def test_upgrade_009():
    """A database at schema 8 (the time indexes in their old order) upgrades
    to 9: both indexes rebuilt in the new order, and the response list (its
    order and its pages) and the dashboards answer as before. Many
    submissions share a second, the case the new order changes."""
    import random
    rnd = random.Random(9)
    base = midnight(NOW - 10 * DAY)
    srv = harness.Server(env=ENV)
    srv.start()
    try:
        for i in range(60):
            s = dict(customer_id=f'v{rnd.randrange(8)}', channel=rnd.choice(['chat', 'email']),
                     agent_id=rnd.choice(['x', 'y']),
                     submitted_at=iso(base + rnd.choice([0, 1, 3600, DAY + 5, 3 * DAY + 7])),
                     nps=rnd.randrange(11))
            eq(srv.request('POST', '/v1/surveys', s, key='ingest')[0], 201, f'upgrade store {i}')
        lists = [dict(), dict(channel='chat'), dict(since=iso(base + 1), until=iso(base + DAY + 6))]
        queries = [dict(since=iso(base + 1), until=iso(base + 3 * DAY + 8)),
                   dict(since=iso(base), until=iso(base + 2), channel='email'),
                   dict(since=iso(base + 2), until=iso(base + DAY + 6), agent_id='x',
                        channel='chat')]
        pages = [responses_pages(srv, **q) for q in lists]
        eq(len(pages[0]), 60, 'every submission listed before the upgrade')
        before = [summary(srv, **q) for q in queries]
        srv.stop()
        db = sqlite3.connect(srv.db_path)
        with db:
            db.executescript("BEGIN;" + OLD_TIME_INDEXES + "COMMIT;")
        db.close()
        srv.start()
        db = sqlite3.connect(srv.db_path)
        try:
            sql = dict(db.execute("SELECT name, sql FROM sqlite_schema WHERE name IN"
                                  " ('submissions_by_time', 'submissions_for_dashboards')"))
            check('(submitted_at, id)' in sql.get('submissions_by_time', ''),
                  f'submissions_by_time ascending after 009: {sql}')
            check('(submitted_at, seq,' in sql.get('submissions_for_dashboards', ''),
                  f'submissions_for_dashboards by second, then seq, after 009: {sql}')
        finally:
            db.close()
        for q, p in zip(lists, pages):
            eq(responses_pages(srv, **q), p, f'response pages unchanged by the upgrade {q}')
        def figures(b):
            return {k: v for k, v in b.items() if k not in ('levels', 'at_risk_customers')}
        for q, b in zip(queries, before):
            eq(figures(summary(srv, **q)), figures(b), f'summary unchanged by the upgrade {q}')
    finally:
        srv.close()


def main():
    harness.BINARY = os.path.abspath(sys.argv[1])
    srv = harness.Server(env=ENV)
    srv.start()
    try:
        load(srv)
        time.sleep(1.1)  # s11 was stored "now": let the default period include it
        test_summary_whole_days(srv)
        test_summary_partial_days(srv)
        test_filters(srv)
        test_empty_and_default(srv)
        test_trend(srv)
        test_point_limit(srv)
        test_breakdown(srv)
        test_validation(srv)
        test_levels_from_profiles(srv, srv.db_path)
    finally:
        srv.close()
    test_against_model()
    test_upgrade_007()
    test_upgrade_009()
    if FAILURES:
        print(f'{len(FAILURES)} failure(s)', file=sys.stderr)
        return 1
    print('test_dashboard: all checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
