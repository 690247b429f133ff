"""The unified inbox: one thread per lead, channel family ("email" or "linkedin") and sender account,
holding what the person sent, what we sent (sequence steps and manual answers), and, per workspace
and sender address, the mail no lead could be matched to.

Tables, each a fold of its own aggregate's events:
- inbox_messages: one row per message and thread. Inbound messages and manual answers come from the
  lead (MessageReceived, ManualReplySent), unmatched mail (UnmatchedMailReceived),
  each inserted once (ON CONFLICT DO NOTHING). Our steps come from the enrollment: StepDispatching
  writes the row ('sending'), and MessageSent, StepSendFailed, SendOutcomeUnknown and MessageBounced
  move its status, every write `WHERE version < :v` (the enrollment's). The text of a step is not in
  the events: outbound step rows have no subject or text, only their step.
- inbox_enrollments: enrollment → lead, sequence and plan (from LeadEnrolled, a fact that never
  changes), since StepDispatching names neither the lead nor the step's channel.
- inbox_marks: the last ThreadRead / ThreadUnread per thread, guarded by the lead's version.
- inbox_manual_replies: the enrollments that recorded a reply by hand (a manual outcome: a call, a
  reply seen elsewhere; ReplyDetected on the "manual" channel), each inserted once.
- inbox_threads: derived. At the end of every batch, each thread the batch touched is recomputed
  from its messages and its mark, under a per-thread advisory lock taken in a fixed order, in a
  statement of its own (so it sees what another consumer committed while we waited). A thread row
  is therefore a function of the message and mark rows alone: redelivery, replays and any
  interleaving of the lead's, the enrollments' and the workspace's events give the same row.

Shown messages: every inbound one, manual answers, and steps that went out (sent, outcome unknown,
bounced); a step still 'sending', 'failed' (to be sent again under the same id) or 'superseded' (sent
again from another sender) is kept but not shown. A thread exists once it shows one.

Derived flags: `replied` = the lead sent a reply (classification reply) in the thread, or one of the
enrollments whose steps it shows recorded a reply by hand; `ooo` =
their latest message is an auto-reply; `bounced` = one of our messages bounced hard, or a bounce
came in; `unmatched` = mail of no lead. `unread` follows the latest, in the lead's own version
order, of: an inbound message (unread), a manual answer (read: one answers what one read), a mark
(as marked). Unmatched threads cannot be marked (no Lead records it), so they are never unread:
they have their own filter.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID, uuid5

from psycopg import Connection, Cursor, sql

from plera.aggregates.lead_inbox import thread_id_of
from plera.envelope import Envelope
from plera.projections.batch import CHUNK, BatchBuffer, columns, reader, text_array
from plera.projections.paging import decode_cursor, encode_cursor
from plera.projections.registry import Projection

STATUSES = ("unread", "replied", "ooo", "bounced", "unmatched")
HIDDEN = ["sending", "failed", "superseded"]  # outbound rows that did not reach the person (or not yet)
PREVIEW = 200

_ORDER = "last_message_at DESC, id DESC"

inbox = Projection(
    name="inbox",
    ddl=[
        "CREATE TABLE IF NOT EXISTS inbox_enrollments ("
        " enrollment_id uuid PRIMARY KEY, workspace_id uuid NOT NULL, lead_id uuid NOT NULL,"
        " sequence_id uuid NOT NULL, channels text[] NOT NULL)",
        "CREATE TABLE IF NOT EXISTS inbox_messages ("
        " thread_id uuid NOT NULL, message_id text NOT NULL, workspace_id uuid NOT NULL, lead_id uuid,"
        " thread_channel text NOT NULL, sender_id uuid, from_address text,"
        " direction text NOT NULL, at timestamptz NOT NULL, channel text NOT NULL, subject text, text text,"
        " classification text, in_reply_to text, step int, enrollment_id uuid, sequence_id uuid,"
        " status text NOT NULL, reason text, author text NOT NULL, version int NOT NULL,"
        # The same Message-ID may reach two workspaces (or two senders of one): one row per thread.
        " PRIMARY KEY (thread_id, message_id))",
        "CREATE INDEX IF NOT EXISTS inbox_messages_message_idx ON inbox_messages (message_id)",
        "CREATE TABLE IF NOT EXISTS inbox_marks ("
        " thread_id uuid PRIMARY KEY, workspace_id uuid NOT NULL, lead_id uuid NOT NULL,"
        " unread boolean NOT NULL, version int NOT NULL)",
        # A reply recorded by hand finds its enrollment's threads by the enrollment's messages.
        "CREATE INDEX IF NOT EXISTS inbox_messages_enrollment_idx ON inbox_messages (enrollment_id)"
        " WHERE enrollment_id IS NOT NULL",
        "CREATE TABLE IF NOT EXISTS inbox_manual_replies (enrollment_id uuid PRIMARY KEY, workspace_id uuid NOT NULL)",
        "CREATE TABLE IF NOT EXISTS inbox_threads ("
        " id uuid PRIMARY KEY, workspace_id uuid NOT NULL, lead_id uuid, channel text NOT NULL, sender_id uuid,"
        " from_address text, sequence_id uuid, subject text, last_message_at timestamptz NOT NULL,"
        " last_direction text NOT NULL, last_preview text, last_classification text,"
        " last_inbound_at timestamptz, last_outbound_at timestamptz, unread boolean NOT NULL,"
        " replied boolean NOT NULL, ooo boolean NOT NULL, bounced boolean NOT NULL, unmatched boolean NOT NULL,"
        " message_count int NOT NULL)",
        # The list, newest first, and one partial index per status filter, so that a rare status
        # (bounced) is read from its own few entries instead of filtered out of every thread.
        f"CREATE INDEX IF NOT EXISTS inbox_threads_list_idx ON inbox_threads (workspace_id, {_ORDER})",
        *(
            f"CREATE INDEX IF NOT EXISTS inbox_threads_{s}_idx ON inbox_threads (workspace_id, {_ORDER}) WHERE {s}"
            for s in STATUSES
        ),
        f"CREATE INDEX IF NOT EXISTS inbox_threads_sequence_idx ON inbox_threads (sequence_id, {_ORDER})"
        " WHERE sequence_id IS NOT NULL",
        f"CREATE INDEX IF NOT EXISTS inbox_threads_sender_idx ON inbox_threads (sender_id, {_ORDER})"
        " WHERE sender_id IS NOT NULL",
    ],
)

# Threads this batch touched (by id), and outbound messages whose status it moved (their thread is
# found at the batch's end: MessageSent names neither the lead nor the sender).
_touched: BatchBuffer[set[UUID]] = BatchBuffer(set)
_moved: BatchBuffer[set[str]] = BatchBuffer(set)
_replied_by_hand: BatchBuffer[set[Any]] = BatchBuffer(set)  # enrollments; their threads are found at the end


def family_of(channel: str) -> str:
    """The thread's channel: "email", or "linkedin" for invites and messages alike."""
    return "email" if channel == "email" else "linkedin"


def unmatched_thread_id(workspace_id: UUID, from_address: str | None) -> UUID:
    return uuid5(workspace_id, "unmatched:" + (from_address or "").strip().lower())


_INSERT = (
    "INSERT INTO inbox_messages (thread_id, message_id, workspace_id, lead_id, thread_channel, sender_id,"
    " from_address, direction, at, channel, subject, text, classification, in_reply_to, step, enrollment_id,"
    " sequence_id, status, author, version)"
    " VALUES (%(thread_id)s, %(message_id)s, %(workspace_id)s, %(lead_id)s, %(thread_channel)s, %(sender_id)s,"
    " %(from_address)s, %(direction)s, %(at)s, %(channel)s, %(subject)s, %(text)s, %(classification)s,"
    " %(in_reply_to)s, %(step)s, %(enrollment_id)s, %(sequence_id)s, %(status)s, %(author)s, %(version)s)"
    " ON CONFLICT (thread_id, message_id) DO NOTHING"
)

# A step sent again after a passing failure keeps its message id: the row goes back to 'sending'
# (guarded by the enrollment's version), and a row of the same message in another thread (had the
# sender changed) is superseded, so that MessageSent moves only this one.
_DISPATCHING = (
    "WITH other AS (UPDATE inbox_messages SET status = 'superseded', version = %(version)s"
    " WHERE message_id = %(message_id)s AND enrollment_id = %(enrollment_id)s AND thread_id <> %(thread_id)s"
    " AND version < %(version)s) "
    + _INSERT.removesuffix("DO NOTHING")
    + "DO UPDATE SET status = 'sending', at = EXCLUDED.at, reason = NULL, version = EXCLUDED.version"
    " WHERE inbox_messages.version < EXCLUDED.version"
)


def _insert(cur: Cursor, e: Envelope, thread_id: UUID, *, statement: str = _INSERT, **row: Any) -> None:
    values = {
        "thread_id": thread_id,
        "workspace_id": e.workspace_id,
        "lead_id": None,
        "sender_id": None,
        "from_address": None,
        "at": e.occurred_at,
        "subject": None,
        "text": None,
        "classification": None,
        "in_reply_to": None,
        "step": None,
        "enrollment_id": None,
        "sequence_id": None,
        "author": e.actor,
        "version": e.aggregate_version,
        **row,
    }
    cur.execute(statement, values)


# ---- the person's messages, our manual answers and the marks (the lead's events)


@inbox.handles("lead", "MessageReceived")
def _received(cur: Cursor, e: Envelope) -> None:
    _lead_message(cur, e, direction="in", status="received")


@inbox.handles("lead", "ManualReplySent")
def _answered(cur: Cursor, e: Envelope) -> None:
    _lead_message(cur, e, direction="out", status="sent")


def _lead_message(cur: Cursor, e: Envelope, *, direction: str, status: str) -> None:
    """A message in the lead's thread of its channel and sender: theirs, or our manual answer (which has
    no classification)."""
    p = e.payload
    family = family_of(p["channel"])
    sender = UUID(p["sender_id"]) if p.get("sender_id") else None
    thread = thread_id_of(e.aggregate_id, family, sender)
    _insert(
        cur,
        e,
        thread,
        message_id=p["message_id"],
        lead_id=e.aggregate_id,
        thread_channel=family,
        sender_id=sender,
        direction=direction,
        channel=p["channel"],
        subject=p.get("subject"),
        text=p.get("text"),
        classification=p.get("classification"),
        in_reply_to=p.get("in_reply_to"),
        status=status,
    )
    _touched.of(cur).add(thread)


def _marked(cur: Cursor, e: Envelope, unread: bool) -> None:
    thread = UUID(str(e.payload["thread_id"]))
    cur.execute(
        "INSERT INTO inbox_marks (thread_id, workspace_id, lead_id, unread, version) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (thread_id) DO UPDATE SET unread = EXCLUDED.unread, version = EXCLUDED.version"
        " WHERE inbox_marks.version < EXCLUDED.version",
        (thread, e.workspace_id, e.aggregate_id, unread, e.aggregate_version),
    )
    _touched.of(cur).add(thread)


@inbox.handles("lead", "ThreadRead")
def _read(cur: Cursor, e: Envelope) -> None:
    _marked(cur, e, False)


@inbox.handles("lead", "ThreadUnread")
def _unread(cur: Cursor, e: Envelope) -> None:
    _marked(cur, e, True)


# ---- mail of no lead (an UnmatchedMail's; stores written before decision 0009 have it on the workspace)


@inbox.handles("unmatched_mail", "UnmatchedMailReceived")
@inbox.handles("workspace", "UnmatchedMailReceived")
def _unmatched(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    address = (p.get("from_address") or "").strip().lower() or None
    thread = unmatched_thread_id(e.workspace_id, address)
    _insert(
        cur,
        e,
        thread,
        message_id=p["message_id"],
        thread_channel="email",
        from_address=address,
        direction="in",
        channel="email",
        subject=p.get("subject"),
        text=p.get("text"),
        classification=p.get("classification"),
        status="received",
    )
    _touched.of(cur).add(thread)


# ---- our steps (the enrollment's events)


class _Enrollments:
    """Enrollment id → (lead id, sequence id, the plan's channels), most recently used kept (never changes)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._known: OrderedDict[Any, tuple[str, str, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, enrollment_id: Any, facts: tuple[str, str, list[str]]) -> None:
        with self._lock:
            self._known[enrollment_id] = facts
            self._known.move_to_end(enrollment_id)
            if len(self._known) > self._size:
                self._known.popitem(last=False)

    def get(self, enrollment_id: Any) -> tuple[str, str, list[str]] | None:
        with self._lock:
            return self._known.get(enrollment_id)


_enrollments = _Enrollments(200_000)


@inbox.handles("enrollment", "LeadEnrolled")
def _enrolled(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    channels = [s["channel"] for s in p["steps"]]
    _enrollments.note(e.aggregate_id, (str(p["lead_id"]), str(p["sequence_id"]), channels))
    # Written at the batch's end, all at once: until then the cache answers for them (a fact never changes).
    new = _new_enrollments.of(cur)
    new[e.aggregate_id] = (
        e.aggregate_id,
        e.workspace_id,
        str(p["lead_id"]),
        str(p["sequence_id"]),
        text_array(channels),
    )
    if len(new) >= CHUNK:
        _insert_enrollments(cur)


_new_enrollments: BatchBuffer[dict[Any, tuple[Any, ...]]] = BatchBuffer(dict)


def _insert_enrollments(cur: Cursor) -> None:
    rows = _new_enrollments.take(cur)
    if rows:
        cur.execute(
            "INSERT INTO inbox_enrollments (enrollment_id, workspace_id, lead_id, sequence_id, channels)"
            " SELECT e, w, l, s, c::text[]"
            " FROM unnest(%b::uuid[], %b::uuid[], %b::text[]::uuid[], %b::text[]::uuid[], %b::text[])"
            " AS r(e, w, l, s, c) ON CONFLICT (enrollment_id) DO NOTHING",
            columns(rows.values()),
        )


def _enrollment(cur: Cursor, enrollment_id: Any) -> tuple[str, str, list[str]] | None:
    found = _enrollments.get(enrollment_id)
    if found is None:
        _insert_enrollments(cur)  # an evicted one may wait in this batch
        row = (
            reader(cur)
            .execute(
                "SELECT lead_id, sequence_id, channels FROM inbox_enrollments WHERE enrollment_id = %s",
                (enrollment_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        found = (str(row[0]), str(row[1]), list(row[2]))
        _enrollments.note(enrollment_id, found)
    return found


@inbox.handles("enrollment", "StepDispatching")
def _dispatching(cur: Cursor, e: Envelope) -> None:
    p = e.payload
    found = _enrollment(cur, e.aggregate_id)
    if found is None:  # its LeadEnrolled comes first in the same stream: only a foreign stream lacks it
        return
    lead_id, sequence_id, channels = found
    step = int(p["step"])
    channel = channels[step - 1] if 0 < step <= len(channels) else "email"
    family = family_of(channel)
    sender = UUID(str(p["sender_id"]))
    _insert(
        cur,
        e,
        thread_id_of(UUID(lead_id), family, sender),
        statement=_DISPATCHING,
        message_id=p["message_id"],
        lead_id=lead_id,
        thread_channel=family,
        sender_id=sender,
        direction="out",
        channel=channel,
        step=step,
        enrollment_id=e.aggregate_id,
        sequence_id=sequence_id,
        status="sending",
    )
    # Not shown while sending; a send again (a superseded row) may change what a thread shows.
    _moved.of(cur).add(p["message_id"])


def _moved_to(cur: Cursor, e: Envelope, status: str, *, sent: bool = False, reason: str | None = None) -> None:
    message_id = e.payload["message_id"]
    cur.execute(
        "UPDATE inbox_messages SET status = %s, at = CASE WHEN %s THEN %s ELSE at END,"
        " reason = coalesce(%s, reason), version = %s"
        " WHERE message_id = %s AND enrollment_id = %s AND version < %s AND status <> 'superseded'",
        (status, sent, e.occurred_at, reason, e.aggregate_version, message_id, e.aggregate_id, e.aggregate_version),
    )
    _moved.of(cur).add(message_id)


@inbox.handles("enrollment", "MessageSent")
def _sent(cur: Cursor, e: Envelope) -> None:
    _moved_to(cur, e, "sent", sent=True)


@inbox.handles("enrollment", "StepSendFailed")
def _failed(cur: Cursor, e: Envelope) -> None:
    _moved_to(cur, e, "failed", reason=e.payload.get("reason"))


@inbox.handles("enrollment", "SendOutcomeUnknown")
def _unknown(cur: Cursor, e: Envelope) -> None:
    _moved_to(cur, e, "outcome_unknown")


@inbox.handles("enrollment", "MessageBounced")
def _bounced(cur: Cursor, e: Envelope) -> None:
    _moved_to(cur, e, "bounced" if e.payload.get("hard") else "soft_bounced", reason=e.payload.get("reason"))


@inbox.handles("enrollment", "ReplyDetected")
def _replied(cur: Cursor, e: Envelope) -> None:
    """A reply recorded by hand has no message of its own: the enrollment's threads show it."""
    if e.payload.get("channel") != "manual":  # an email or LinkedIn reply is its lead's MessageReceived
        return
    cur.execute(
        "INSERT INTO inbox_manual_replies (enrollment_id, workspace_id) VALUES (%s, %s)"
        " ON CONFLICT (enrollment_id) DO NOTHING",
        (e.aggregate_id, e.workspace_id),
    )
    _replied_by_hand.of(cur).add(e.aggregate_id)


# ---- the threads, recomputed at the batch's end

_RECOMPUTE = r"""
WITH m AS (
  SELECT i.*, EXISTS (SELECT 1 FROM inbox_manual_replies r WHERE r.enrollment_id = i.enrollment_id) AS by_hand
  FROM inbox_messages i WHERE thread_id = ANY(%(ids)s::uuid[]) AND status <> ALL(%(hidden)s::text[])
), agg AS (
  SELECT thread_id, count(*) AS n, max(at) AS last_at,
    max(at) FILTER (WHERE direction = 'in') AS last_in_at,
    max(at) FILTER (WHERE direction = 'out') AS last_out_at,
    coalesce(bool_or((direction = 'in' AND classification = 'reply' AND lead_id IS NOT NULL) OR by_hand), false)
      AS replied,
    coalesce(bool_or(status = 'bounced' OR (direction = 'in' AND classification = 'bounce')), false) AS bounced,
    max(version) FILTER (WHERE direction = 'in' AND lead_id IS NOT NULL) AS in_v,
    max(version) FILTER (WHERE direction = 'out' AND enrollment_id IS NULL) AS manual_v
  FROM m GROUP BY thread_id
), last AS (
  SELECT DISTINCT ON (thread_id) * FROM m ORDER BY thread_id, at DESC, message_id DESC
), last_in AS (
  SELECT DISTINCT ON (thread_id) thread_id, classification FROM m WHERE direction = 'in'
  ORDER BY thread_id, at DESC, message_id DESC
), first_subject AS (
  SELECT DISTINCT ON (thread_id) thread_id, subject FROM m WHERE btrim(subject) <> ''
  ORDER BY thread_id, at, message_id
), seq AS (
  SELECT DISTINCT ON (thread_id) thread_id, sequence_id FROM m WHERE sequence_id IS NOT NULL
  ORDER BY thread_id, at DESC, message_id DESC
), kept AS (
  INSERT INTO inbox_threads AS t (id, workspace_id, lead_id, channel, sender_id, from_address, sequence_id, subject,
    last_message_at, last_direction, last_preview, last_classification, last_inbound_at, last_outbound_at,
    unread, replied, ooo, bounced, unmatched, message_count)
  SELECT a.thread_id, l.workspace_id, l.lead_id, l.thread_channel, l.sender_id, l.from_address, s.sequence_id,
    nullif(btrim(regexp_replace(f.subject, '^\s*((re|fwd?|aw|sv)\s*:\s*)+', '', 'i')), ''),
    a.last_at, l.direction, left(l.text, %(preview)s), l.classification, a.last_in_at, a.last_out_at,
    CASE WHEN l.lead_id IS NULL THEN false
         WHEN k.version > coalesce(greatest(a.in_v, a.manual_v), 0) THEN k.unread
         ELSE coalesce(a.in_v, 0) > coalesce(a.manual_v, 0) END,
    a.replied, coalesce(i.classification = 'auto_reply', false), a.bounced, l.lead_id IS NULL, a.n
  FROM agg a JOIN last l USING (thread_id) LEFT JOIN last_in i USING (thread_id)
  LEFT JOIN first_subject f USING (thread_id) LEFT JOIN seq s USING (thread_id)
  LEFT JOIN inbox_marks k ON k.thread_id = a.thread_id
  ON CONFLICT (id) DO UPDATE SET sequence_id = EXCLUDED.sequence_id, subject = EXCLUDED.subject,
    last_message_at = EXCLUDED.last_message_at, last_direction = EXCLUDED.last_direction,
    last_preview = EXCLUDED.last_preview, last_classification = EXCLUDED.last_classification,
    last_inbound_at = EXCLUDED.last_inbound_at, last_outbound_at = EXCLUDED.last_outbound_at,
    unread = EXCLUDED.unread, replied = EXCLUDED.replied, ooo = EXCLUDED.ooo, bounced = EXCLUDED.bounced,
    message_count = EXCLUDED.message_count
  WHERE (t.sequence_id, t.subject, t.last_message_at, t.last_direction, t.last_preview, t.last_classification,
         t.last_inbound_at, t.last_outbound_at, t.unread, t.replied, t.ooo, t.bounced, t.message_count)
    IS DISTINCT FROM (EXCLUDED.sequence_id, EXCLUDED.subject, EXCLUDED.last_message_at, EXCLUDED.last_direction,
         EXCLUDED.last_preview, EXCLUDED.last_classification, EXCLUDED.last_inbound_at, EXCLUDED.last_outbound_at,
         EXCLUDED.unread, EXCLUDED.replied, EXCLUDED.ooo, EXCLUDED.bounced, EXCLUDED.message_count)
)
DELETE FROM inbox_threads WHERE id = ANY(%(ids)s::uuid[]) AND id NOT IN (SELECT thread_id FROM agg)
"""


_LOCK_BUCKETS = 64  # threads share this many locks: a batch (or a whole replay) never holds more


def _lock_key(thread_id: UUID) -> int:
    """The lock a thread's recompute takes: one of a few buckets, since a transaction holding a lock per
    thread would exhaust PostgreSQL's lock table (max_locks_per_transaction) on a large batch or replay."""
    return int.from_bytes(thread_id.bytes[:4], "big") % _LOCK_BUCKETS


def _finish(cur: Cursor) -> None:
    _insert_enrollments(cur)
    threads = _touched.take(cur) or set()
    moved = _moved.take(cur)
    if moved:
        found = reader(cur).execute(
            "SELECT DISTINCT thread_id FROM inbox_messages WHERE message_id = ANY(%s)", (sorted(moved),)
        )
        threads.update(r[0] for r in found.fetchall())
    replied = _replied_by_hand.take(cur)
    if replied:
        found = reader(cur).execute(
            "SELECT DISTINCT thread_id FROM inbox_messages WHERE enrollment_id = ANY(%s::uuid[])",
            (sorted(map(str, replied)),),
        )
        threads.update(r[0] for r in found.fetchall())
    if not threads:
        return
    # Another consumer may be writing messages of the same thread (a lead's and its enrollments'
    # events are on different partitions). Each recomputes under the thread's lock, in its own
    # statement, so the later one sees the earlier one's rows; the keys go in one order, so two
    # consumers never wait on each other crosswise. The schema is in the key: a rebuild's staging
    # tables do not wait on the live ones.
    cur.execute(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema()), k) FROM unnest(%s::int[]) AS k",
        (sorted({_lock_key(t) for t in threads}),),
    )
    cur.execute(_RECOMPUTE, {"ids": sorted(threads), "hidden": HIDDEN, "preview": PREVIEW})


inbox.finish = _finish


# ---- queries

_THREAD_COLUMNS = (
    "t.id, t.lead_id, l.name, l.email, l.linkedin_url, l.company, t.channel, t.sender_id, a.name, t.from_address,"
    " t.sequence_id, s.name, t.subject, t.last_message_at, t.last_direction, t.last_preview, t.last_classification,"
    " t.last_inbound_at, t.unread, t.replied, t.ooo, t.bounced, t.unmatched, t.message_count"
)
_JOINS = (
    " LEFT JOIN read.leads l ON l.id = t.lead_id"
    " LEFT JOIN read.catalog s ON s.id = t.sequence_id"
    " LEFT JOIN read.catalog a ON a.id = t.sender_id"
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _thread_item(r: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": str(r[0]),
        "lead_id": str(r[1]) if r[1] else None,
        "lead_name": r[2],
        "lead_email": r[3],
        "lead_linkedin_url": r[4],
        "company": r[5],
        "channel": r[6],
        "sender_id": str(r[7]) if r[7] else None,
        "sender_name": r[8],
        "from_address": r[9],
        "sequence_id": str(r[10]) if r[10] else None,
        "sequence_name": r[11],
        "subject": r[12],
        "last_message_at": _iso(r[13]),
        "last_direction": r[14],
        "last_preview": r[15],
        "last_classification": r[16],
        "last_inbound_at": _iso(r[17]),
        "unread": r[18],
        "replied": r[19],
        "ooo": r[20],
        "bounced": r[21],
        "unmatched": r[22],
        "message_count": r[23],
    }


def threads(
    conn: Connection,
    workspace_id: UUID,
    *,
    status: str | None = None,
    sequence_id: UUID | None = None,
    sender_id: UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of the workspace's threads, latest message first, as {items, next_cursor}.

    `status` is one of STATUSES; sequence_id and sender_id narrow further. A bad cursor raises BadCursor.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"status is one of {', '.join(STATUSES)}")
    # Only the filters given, so each combination gets its own plan and its partial index.
    where: list[sql.Composable] = [sql.SQL("t.workspace_id = %s")]
    params: list[Any] = [workspace_id]
    if status is not None:
        where.append(sql.SQL("t.{}").format(sql.Identifier(status)))
    if sequence_id is not None:
        where.append(sql.SQL("t.sequence_id = %s"))
        params.append(sequence_id)
    if sender_id is not None:
        where.append(sql.SQL("t.sender_id = %s"))
        params.append(sender_id)
    if cursor:
        where.append(sql.SQL("(t.last_message_at, t.id) < (%s, %s)"))
        params.extend(decode_cursor(cursor))
    query = sql.SQL(
        "SELECT " + _THREAD_COLUMNS + " FROM (SELECT * FROM read.inbox_threads t WHERE {}"
        " ORDER BY t.last_message_at DESC, t.id DESC LIMIT %s) t"
        + _JOINS
        + " ORDER BY t.last_message_at DESC, t.id DESC"
    ).format(sql.SQL(" AND ").join(where))
    rows = conn.execute(query, [*params, limit + 1]).fetchall()
    items = [_thread_item(r) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1][13], rows[limit - 1][0]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


def thread(conn: Connection, workspace_id: UUID, thread_id: UUID) -> dict[str, Any] | None:
    """The thread with its shown messages, oldest first; None when the workspace has no such thread."""
    row = conn.execute(
        "SELECT "
        + _THREAD_COLUMNS
        + " FROM read.inbox_threads t"
        + _JOINS
        + " WHERE t.id = %s AND t.workspace_id = %s",
        (thread_id, workspace_id),
    ).fetchone()
    if row is None:
        return None
    messages = conn.execute(
        "SELECT message_id, direction, at, channel, subject, text, classification, in_reply_to, step, enrollment_id,"
        " sequence_id, status, reason, author FROM read.inbox_messages"
        " WHERE thread_id = %s AND status <> ALL(%s) ORDER BY at, message_id",
        (thread_id, HIDDEN),
    ).fetchall()
    keys = (
        "message_id",
        "direction",
        "at",
        "channel",
        "subject",
        "text",
        "classification",
        "in_reply_to",
        "step",
        "enrollment_id",
        "sequence_id",
        "status",
        "reason",
        "author",
    )
    shown = []
    for m in messages:
        item = dict(zip(keys, m, strict=True))
        item["at"] = m[2].isoformat()
        item["enrollment_id"] = str(m[9]) if m[9] else None
        item["sequence_id"] = str(m[10]) if m[10] else None
        shown.append(item)
    return _thread_item(row) | {"messages": shown}


def ours_among(conn: Connection, workspace_id: UUID, message_ids: list[str]) -> dict[str, Any] | None:
    """The first of these message ids that is one of our messages in a lead's thread (a step or a
    manual answer), as {thread_id, lead_id, sender_id}; None when none is. Inbound mail that answers
    a manual answer finds its thread by it (In-Reply-To, References): the enrollments' step rows,
    which inbound mail reads first, do not hold manual answers."""
    if not message_ids:
        return None
    row = conn.execute(
        "SELECT thread_id, lead_id, sender_id FROM read.inbox_messages"
        " WHERE message_id = ANY(%s) AND workspace_id = %s AND direction = 'out' AND lead_id IS NOT NULL"
        " ORDER BY array_position(%s, message_id) LIMIT 1",
        (message_ids, workspace_id, message_ids),
    ).fetchone()
    return None if row is None else {"thread_id": row[0], "lead_id": row[1], "sender_id": row[2]}
