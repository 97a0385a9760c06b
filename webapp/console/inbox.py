"""The learning inbox: visitor messages the assistant did not understand, turned into training data.

Every visitor message that got ``fallback``, ``out_of_scope`` or a
low-confidence intent (below ``INBOX_LOW_CONFIDENCE``, 0.6) is listed, with
similar messages grouped together, counts and links to their conversations.
An editor assigns the right intent (or marks it out of scope, medical or
crisis); the assignment becomes a training example in
``data/nlu/reviewed_inbox.yml`` (``INBOX_TRAINING_FILE``) with who assigned it
and when, names, phone numbers and e-mail addresses scrubbed
(:mod:`webapp.console.scrub`). ``make validate`` checks that file like any
training data and ``make reload`` trains on it.

Grouping: messages are turned into sentence vectors by
``semantics.encoder.encode`` (L2-normalised, so a dot product is the cosine)
and grouped greedily: most frequent first, each message joins the group whose
first message it is most similar to when that similarity reaches a threshold,
else it starts a group. When the sentence model is not installed (or
``INBOX_ENCODER=ngram``), character n-grams stand in: similar spellings group
together, paraphrases do not. The web app never imports Rasa.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import string
import tempfile
import threading
import urllib.parse
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import yaml
from sanic import Blueprint, response
from sanic.request import Request
from sqlalchemy.exc import SQLAlchemyError

from clinic import routing
from clinic.models import EDITOR_ROLES
from webapp.console import audit
from webapp.console.analytics import FALLBACK_INTENTS, EventScanner, Message, low_confidence, parse_range, \
    scanner_for, setting
from webapp.console.scrub import scrub

logger = logging.getLogger(__name__)

Encoder = Callable[[List[str]], np.ndarray]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GROUPS_PER_PAGE = 30
MEMBERS_SHOWN = 8
LINKS_SHOWN = 5
NGRAM_DIMENSIONS = 4096
# Cosine similarity at which two messages share a group (measured on the clinic's own
# training examples, docs/ANALYTICS.md): sentence vectors, and the character n-gram stand-in.
THRESHOLDS = {"semantic": 0.7, "ngram": 0.55}
# What an editor may assign: the special choices first, then every intent of the routing table.
SPECIAL = (("out_of_scope", "Out of scope (not the clinic's business)"),
           ("medical_question", "Medical (a clinician answers)"),
           ("crisis", "Crisis (crisis reply at once)"))
HEADER = """\
# Reviewed messages from the staff console's learning inbox (/staff/inbox).
#
# Written by webapp/console/inbox.py when an editor assigns an intent to messages the
# assistant did not understand: each example carries who assigned it and when. Names,
# phone numbers and e-mail addresses were replaced by [name], [phone] and [email].
# Real visitors' words: never copy them into eval/ (held-out test data).
# `make validate` checks this file like any training data; `make reload` trains on it.
# To undo an assignment, delete its example (text and metadata lines).
"""


def training_file() -> Path:
    return Path(setting("INBOX_TRAINING_FILE", str(PROJECT_ROOT / "data" / "nlu" / "reviewed_inbox.yml")))


# --- matching examples as the editor checks do ---------------------------------------------

_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_PUNCTUATION = re.compile("[" + re.escape("".join(c for c in string.punctuation if c != "'")) + "]+")


def normalized(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of an example (as editorial/project.py compares them)."""
    return " ".join(_PUNCTUATION.sub(" ", _ENTITY.sub(r"\1", text).casefold()).split())


def key_of(text: str) -> str:
    """A short stable id for a message's wording, for forms and the audit trail (never the text itself)."""
    return hashlib.sha256(normalized(text).encode()).hexdigest()[:16]


# --- encoders and grouping -----------------------------------------------------------------

def ngram_encode(texts: Sequence[str]) -> np.ndarray:
    """Hashed character 3- and 4-grams within words plus whole words, L2-normalised."""
    out = np.zeros((len(texts), NGRAM_DIMENSIONS), dtype=np.float32)
    for row, t in enumerate(texts):
        for word in normalized(t).split():
            padded = f" {word} "
            grams = [padded[i:i + n] for n in (3, 4) for i in range(len(padded) - n + 1)] + [f"w:{word}"]
            for gram in grams:
                out[row, zlib.crc32(gram.encode()) % NGRAM_DIMENSIONS] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


class EncoderChoice:
    """The encoder the inbox groups with, chosen once: the sentence model when installed.

    The sentence model costs the web app about 30 s and 700 MB the first time
    (TensorFlow, the model, the first encodings; docs/ANALYTICS.md), so it is
    never loaded or run while a page waits: a view whose wordings are not all
    encoded yet is grouped by spelling, and a worker thread encodes them for
    the next view. Encoders given to the constructor (tests) run inline.
    """

    def __init__(self, override: Optional[Tuple[Encoder, str]] = None) -> None:
        self._lock = threading.Lock()
        self._choice = override
        self._inline = override is not None
        self._cache: Dict[Tuple[str, str], np.ndarray] = {}
        self._pending: Dict[str, None] = {}
        self._worker: Optional[threading.Thread] = None

    def _resolve(self) -> Tuple[Encoder, str]:
        wanted = setting("INBOX_ENCODER", "auto")
        if wanted in ("auto", "semantic"):
            try:
                from semantics import encoder as semantic

                if not (semantic.model_dir() / "tokenizer.json").is_file():
                    raise FileNotFoundError("sentence model not installed")
                return semantic.encode, "semantic"
            except Exception as e:  # not installed, or its model files are missing
                logger.warning("Learning inbox: no sentence encoder (%s); grouping by spelling", type(e).__name__)
        return ngram_encode, "ngram"

    def get(self) -> Tuple[Encoder, str]:
        with self._lock:
            if self._choice is None:
                self._choice = self._resolve()
            return self._choice

    @property
    def preparing(self) -> bool:
        """True while the worker encodes wordings for the sentence model."""
        return self._worker is not None and self._worker.is_alive()

    def _cached(self, encode: Encoder, name: str, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if (name, t) not in self._cache]
        if missing:
            vectors = np.asarray(encode(list(missing)), dtype=np.float32)
            if len(self._cache) > 50_000:
                self._cache.clear()
            for t, v in zip(missing, vectors):
                self._cache[(name, t)] = v
        return np.vstack([self._cache[(name, t)] for t in texts])

    def _work(self, encode: Encoder, name: str) -> None:
        while True:
            with self._lock:
                batch = list(self._pending)[:256]
                for t in batch:
                    self._pending.pop(t, None)
            if not batch:
                return
            try:
                self._cached(encode, name, batch)
            except Exception as e:  # the model could not be loaded or run: spelling from now on
                logger.warning("Learning inbox: sentence encoder failed (%s); grouping by spelling",
                               type(e).__name__)
                with self._lock:
                    self._choice = (ngram_encode, "ngram")
                    self._pending.clear()
                return

    def encode(self, texts: Sequence[str]) -> Tuple[np.ndarray, str]:
        """Vectors of ``texts`` (cached per wording) and the name of the encoder that made them."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32), self.get()[1]
        encode, name = self.get()
        if name == "ngram" or self._inline:
            try:
                return self._cached(encode, name, texts), name
            except Exception as e:
                if name == "ngram":
                    raise
                logger.warning("Learning inbox: encoder %s failed (%s); grouping by spelling", name,
                               type(e).__name__)
                with self._lock:
                    self._choice, self._inline = (ngram_encode, "ngram"), False
                return self._cached(ngram_encode, "ngram", texts), "ngram"
        missing = [t for t in dict.fromkeys(texts) if (name, t) not in self._cache]
        if not missing:
            return np.vstack([self._cache[(name, t)] for t in texts]), name
        with self._lock:
            for t in missing:
                self._pending[t] = None
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, args=(encode, name), daemon=True,
                                                name="inbox-encoder")
                self._worker.start()
        return self._cached(ngram_encode, "ngram", texts), "ngram"


def greedy_groups(vectors: np.ndarray, threshold: float) -> List[int]:
    """A group number per row: in the given order, each row joins the group whose first row it is
    most similar to (cosine of L2-normalised rows) when that reaches ``threshold``, else starts one."""
    n = len(vectors)
    if n == 0:
        return []
    leads = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    count = 0
    labels: List[int] = []
    for row in vectors:
        if count:
            sims = leads[:count] @ row
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                labels.append(best)
                continue
        leads[count] = row
        labels.append(count)
        count += 1
    return labels


# --- the inbox's rows ----------------------------------------------------------------------

@dataclass
class Member:
    """One wording (messages that normalise to the same text) and where it was said."""

    key: str
    text: str  # the most frequent raw form
    scrubbed: str  # what would be saved as a training example
    messages: int = 0
    senders: List[Tuple[str, float]] = field(default_factory=list)  # (conversation, time), newest first
    reasons: Set[str] = field(default_factory=set)
    guesses: Counter = field(default_factory=Counter)  # the model's intents
    reviewed: Optional[Dict[str, str]] = None  # {intent, assigned_by, assigned_at} once assigned

    @property
    def conversations(self) -> int:
        return len({s for s, _t in self.senders})


@dataclass
class Group:
    members: List[Member]

    @property
    def lead(self) -> Member:
        return self.members[0]

    @property
    def messages(self) -> int:
        return sum(m.messages for m in self.members)

    @property
    def conversations(self) -> int:
        return len({s for m in self.members for s, _t in m.senders})

    @property
    def reasons(self) -> List[str]:
        return sorted({r for m in self.members for r in m.reasons})

    @property
    def key(self) -> str:
        return self.lead.key


def reasons_of(msg: Message, threshold: float) -> Set[str]:
    out: Set[str] = set()
    if msg.intent == "nlu_fallback" or msg.reply in ("fallback", "fallback_repeat"):
        out.add("fallback")
    if msg.intent == "out_of_scope" or msg.reply == "out_of_scope":
        out.add("out_of_scope")
    if msg.confidence is not None and msg.confidence < threshold and msg.intent not in FALLBACK_INTENTS:
        out.add("low_confidence")
    if msg.unanswered and not out:
        out.add("fallback")
    return out


def members_from(messages: Iterable[Message], reviewed: Dict[str, Dict[str, str]],
                 threshold: Optional[float] = None) -> List[Member]:
    """Candidates folded by wording, most frequent first (then most recent)."""
    threshold = low_confidence() if threshold is None else threshold
    by_key: Dict[str, Tuple[Member, Counter]] = {}
    for msg in messages:
        reasons = reasons_of(msg, threshold)
        if not reasons:
            continue
        norm = normalized(msg.text)
        if not norm:
            continue
        entry = by_key.get(norm)
        if entry is None:
            entry = by_key[norm] = (Member(key_of(msg.text), msg.text, ""), Counter())
        member, forms = entry
        forms[msg.text] += 1
        member.messages += 1
        member.senders.append((msg.sender_id, msg.ts))
        member.reasons |= reasons
        member.guesses[msg.intent or "?"] += 1
    out = []
    for member, forms in by_key.values():
        member.text = forms.most_common(1)[0][0]
        member.scrubbed = scrub(member.text)
        member.senders.sort(key=lambda s: -s[1])
        member.reviewed = reviewed.get(normalized(member.scrubbed))
        out.append(member)
    out.sort(key=lambda m: (-m.messages, -(m.senders[0][1] if m.senders else 0), m.key))
    return out


def group_members(members: List[Member], encoder: EncoderChoice,
                  threshold: Optional[float] = None) -> Tuple[List[Group], str]:
    """Similar wordings together; groups with the most messages first. Also the encoder's name."""
    if not members:
        return [], encoder.get()[1]
    vectors, name = encoder.encode([m.text for m in members])
    if threshold is None:
        raw = setting("INBOX_GROUP_THRESHOLD", "")
        try:
            threshold = float(raw) if raw else THRESHOLDS.get(name, 0.7)
        except ValueError:
            threshold = THRESHOLDS.get(name, 0.7)
    labels = greedy_groups(vectors, threshold)
    groups: Dict[int, Group] = {}
    for member, label in zip(members, labels):
        groups.setdefault(label, Group([])).members.append(member)
    ordered = sorted(groups.values(), key=lambda g: (-g.messages, -g.conversations, g.key))
    return ordered, name


# --- the reviewed training file ----------------------------------------------------------------

class AssignError(ValueError):
    """An assignment that cannot be made; the message says why and what to do."""


_file_lock = threading.Lock()


def read_reviewed(path: Optional[Path] = None) -> List[Dict[str, Any]]:
    """The examples in the reviewed file: [{intent, text, assigned_by, assigned_at, ...}], file order."""
    path = path or training_file()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return []
    except yaml.YAMLError as e:
        raise AssignError(f"{path.name} is not valid YAML any more ({e}); fix it by hand first") from e
    out: List[Dict[str, Any]] = []
    for item in (data.get("nlu") or []) if isinstance(data, dict) else []:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        examples = item.get("examples") or []
        if isinstance(examples, str):  # written by hand in the usual block form
            examples = [{"text": line.strip()[2:]} for line in examples.splitlines() if line.strip().startswith("- ")]
        for ex in examples:
            if isinstance(ex, dict) and isinstance(ex.get("text"), str):
                meta = ex.get("metadata") if isinstance(ex.get("metadata"), dict) else {}
                out.append({"intent": str(item["intent"]), "text": ex["text"].strip(),
                            **{k: str(v) for k, v in meta.items()}})
    return out


def reviewed_index(path: Optional[Path] = None) -> Dict[str, Dict[str, str]]:
    return {normalized(e["text"]): e for e in read_reviewed(path)}


def render_reviewed(examples: List[Dict[str, Any]]) -> str:
    """The whole file, grouped by intent (first assignment first), strings quoted as JSON (valid YAML)."""
    order: List[str] = []
    by_intent: Dict[str, List[Dict[str, Any]]] = {}
    for ex in examples:
        if ex["intent"] not in by_intent:
            order.append(ex["intent"])
        by_intent.setdefault(ex["intent"], []).append(ex)
    lines = [HEADER, 'version: "3.1"', ""]
    if not order:
        lines.append("nlu: []")
    else:
        lines.append("nlu:")
    for intent in order:
        lines.append(f"- intent: {intent}")
        lines.append("  examples:")
        for ex in by_intent[intent]:
            lines.append(f"  - text: {json.dumps(ex['text'], ensure_ascii=False)}")
            meta = {k: v for k, v in ex.items() if k not in ("intent", "text")}
            if meta:
                lines.append("    metadata:")
                for k in sorted(meta):
                    lines.append(f"      {k}: {json.dumps(str(meta[k]), ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _other_examples(path: Path) -> Dict[str, Tuple[str, str]]:
    """Examples in the project's other training files: normalised text -> (intent, file)."""
    data_dir = path.parent.parent if path.parent.name == "nlu" else path.parent
    out: Dict[str, Tuple[str, str]] = {}
    for file in sorted(data_dir.rglob("*.yml")):
        if file.resolve() == path.resolve():
            continue
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # `make validate` reports broken files; nothing to compare with here
        for item in (data.get("nlu") or []) if isinstance(data, dict) else []:
            if not isinstance(item, dict) or "intent" not in item:
                continue
            examples = item.get("examples") or ""
            texts = ([line.strip()[2:] for line in examples.splitlines() if line.strip().startswith("- ")]
                     if isinstance(examples, str) else
                     [e.get("text", "") for e in examples if isinstance(e, dict)])
            for t in texts:
                if isinstance(t, str) and t.strip():
                    out.setdefault(normalized(t), (str(item["intent"]), str(file.relative_to(data_dir.parent))))
    return out


@dataclass
class AssignResult:
    added: List[str]  # example texts written
    moved: List[str]  # examples that were under another intent in the reviewed file
    already: List[str]  # already examples of this intent elsewhere: nothing to do


def assign(texts: Sequence[str], intent: str, actor: str, path: Optional[Path] = None,
           now: Optional[dt.datetime] = None) -> AssignResult:
    """Add the scrubbed ``texts`` as examples of ``intent`` to the reviewed file, with who and when.

    Refused (nothing written) when the intent is not in the routing table, or a text
    is already an example of another intent in another training file: the same
    example under two intents fails ``make validate``.
    """
    path = path or training_file()
    table = routing.current()
    if intent not in table.domain_intents():
        raise AssignError(f"'{intent}' is not an intent of the assistant (content/routing.yml)")
    stamp = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    wanted: List[str] = []
    for t in texts:
        clean = scrub(t)
        if normalized(clean) and normalized(clean) not in {normalized(w) for w in wanted}:
            wanted.append(clean)
    if not wanted:
        raise AssignError("choose at least one message")
    with _file_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name("." + path.name + ".lock")
        with open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # other web-app processes on this checkout
            try:
                examples = read_reviewed(path)
                others = _other_examples(path)
                result = AssignResult([], [], [])
                conflicts = []
                for text_ in wanted:
                    hit = others.get(normalized(text_))
                    if hit and hit[0] != intent:
                        conflicts.append(f"'{text_}' is already an example of '{hit[0]}' in {hit[1]}")
                    elif hit:
                        result.already.append(text_)
                if conflicts:
                    raise AssignError("; ".join(conflicts) + ". Change it there, or choose that intent.")
                for text_ in wanted:
                    if text_ in result.already:
                        continue
                    norm = normalized(text_)
                    existing = next((e for e in examples if normalized(e["text"]) == norm), None)
                    if existing is not None:
                        if existing["intent"] == intent:
                            result.already.append(text_)
                            continue
                        examples.remove(existing)
                        result.moved.append(text_)
                    examples.append({"intent": intent, "text": text_, "assigned_by": actor,
                                     "assigned_at": stamp, "source": "learning inbox"})
                    result.added.append(text_)
                if result.added:
                    _write_atomically(path, render_reviewed(examples))
                return result
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _write_atomically(path: Path, body: str) -> None:
    """Readers (``make validate``, a training run) see the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix="." + path.name, dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --- the page ----------------------------------------------------------------------------------

def intent_choices() -> List[Tuple[str, List[Tuple[str, str]]]]:
    """The editor's menu, in order: the special choices, then the routing table by category."""
    table = routing.current()
    intents = set(table.domain_intents())
    special = {i for i, _l in SPECIAL}
    groups: Dict[str, List[Tuple[str, str]]] = {"Mark as": [(i, label) for i, label in SPECIAL if i in intents]}
    names = {"article_topic": "Article topic", "small_talk": "Small talk", "handoff": "Hand-off",
             "routing": "Routing", "form": "Callback form"}
    for route in table:
        if route.intent in special or route.intent not in intents:
            continue
        groups.setdefault(names.get(route.category, route.category), []).append(
            (route.intent, f"{route.intent} → {route.content}"))
    return [(name, items) for name, items in groups.items() if items]


@dataclass
class InboxView:
    groups: List[Group]
    encoder: str
    total_messages: int
    total_groups: int
    preparing: bool = False  # the sentence model is encoding this view's wordings
    file_error: str = ""  # the reviewed file could not be read (then nothing counts as reviewed)


def inbox_view(scanner: EventScanner, encoder: EncoderChoice, lo: float, hi: float, reason: str,
               show_reviewed: bool, path: Optional[Path] = None) -> InboxView:
    file_error = ""
    try:
        reviewed = reviewed_index(path)
    except AssignError as e:
        reviewed, file_error = {}, str(e)
    candidates = scanner.read(lambda s: [m for m in s.messages if lo <= m.ts < hi])
    members = members_from(candidates, reviewed)
    if not show_reviewed:
        members = [m for m in members if m.reviewed is None]
    if reason:
        members = [m for m in members if reason in m.reasons]
    groups, name = group_members(members, encoder)
    return InboxView(groups, name, sum(m.messages for m in members), len(groups), encoder.preparing, file_error)


def texts_for_keys(scanner: EventScanner, keys: Set[str]) -> List[str]:
    """The raw wordings behind the keys the form sent (any date: a key names a wording)."""
    found: Dict[str, Counter] = {}
    for msg in scanner.read(lambda s: list(s.messages)):
        k = key_of(msg.text)
        if k in keys:
            found.setdefault(k, Counter())[msg.text] += 1
    return [c.most_common(1)[0][0] for c in found.values()]


REASONS = ("fallback", "out_of_scope", "low_confidence")
NOTICES = {"assigned": "Saved to the reviewed training file. Run `make reload` to train on it.",
           "nothing": "Those messages were already training examples of that intent: nothing to add."}


def build_blueprint(state: Any) -> Blueprint:
    """The inbox page and the assignment form (signed-in staff and admins)."""
    bp = Blueprint("staff_inbox", url_prefix="/staff")
    encoder = EncoderChoice()

    def who(request: Request) -> Tuple[str, str]:
        return request.ctx.account.username, request.ctx.account.role

    def ip(request: Request) -> str:
        return str(request.remote_addr or request.ip or "")

    def raw_args(args: Any) -> Dict[str, str]:
        today = dt.datetime.now(state.tz).date()
        choice = parse_range({"from": args.get("from"), "to": args.get("to"), "days": args.get("days") or
                              ("" if args.get("from") or args.get("to") else "90")}, today)
        raw = {"from": choice.raw["from"], "to": choice.raw["to"],
               "reason": args.get("reason") if args.get("reason") in REASONS else "",
               "reviewed": "1" if (args.get("reviewed") or "") in ("1", "on") else ""}
        return {**raw, "_errors": " ".join(choice.errors)}

    def bounds(raw: Dict[str, str]) -> Tuple[float, float]:
        start = dt.date.fromisoformat(raw["from"])
        end = dt.date.fromisoformat(raw["to"]) + dt.timedelta(days=1)
        return (dt.datetime(start.year, start.month, start.day, tzinfo=state.tz).timestamp(),
                dt.datetime(end.year, end.month, end.day, tzinfo=state.tz).timestamp())

    def link(raw: Dict[str, str], **changes: Any) -> str:
        merged = {k: v for k, v in {**raw, **{k: str(v) for k, v in changes.items()}}.items()
                  if v and not k.startswith("_")}
        return "/staff/inbox?" + urllib.parse.urlencode(merged)

    @bp.get("/inbox")
    async def inbox_page(request: Request):
        actor, role = who(request)
        raw = raw_args(request.args)
        try:
            page = max(1, int(request.args.get("page") or 1))
        except ValueError:
            page = 1
        lo, hi = bounds(raw)
        try:
            view = await asyncio.to_thread(inbox_view, scanner_for(state.reader.url), encoder, lo, hi,
                                           raw["reason"], bool(raw["reviewed"]))
        except (SQLAlchemyError, routing.RoutingError) as e:
            logger.error("Inbox not computed: %s", type(e).__name__)
            return state.render(request, "error.html", status=503, title="Inbox unavailable",
                                detail="The conversation store could not be read just now. Try again in a minute.")
        last = max(1, (len(view.groups) + GROUPS_PER_PAGE - 1) // GROUPS_PER_PAGE)
        page = min(page, last)
        shown = view.groups[(page - 1) * GROUPS_PER_PAGE: page * GROUPS_PER_PAGE]
        audit.record(actor, "inbox_view", "inbox",
                     {"from": raw["from"], "to": raw["to"], "reason": raw["reason"], "reviewed": bool(raw["reviewed"]),
                      "page": page, "groups": view.total_groups, "messages": view.total_messages},
                     ip=ip(request), role=role, url=state.clinic_url)
        notice = NOTICES.get(request.args.get("done", ""))
        error = (request.args.get("error") or "")[:500] or view.file_error
        return state.render(request, "inbox.html", groups=shown, view=view, f=raw, page=page, last=last,
                            link=lambda **kw: link(raw, **kw), choices=intent_choices(), reasons=REASONS,
                            notice=notice, error=error, range_error=raw["_errors"], members_shown=MEMBERS_SHOWN,
                            links_shown=LINKS_SHOWN, training_file=_shown_path(training_file()),
                            can_assign=role in EDITOR_ROLES)

    @bp.post("/inbox/assign", ctx_console_access="editor")
    async def inbox_assign(request: Request):
        actor, role = who(request)
        form = request.form or {}
        raw = {k: str(form.get(k) or "")[:20] for k in ("from", "to", "reason", "reviewed")}
        back = link(raw)
        intent = str(form.get("intent") or "")[:64]
        keys = {k for k in (form.getlist("key") or []) if re.fullmatch(r"[0-9a-f]{16}", k or "")}
        if not intent or not keys:
            return response.redirect(back + "&" + urllib.parse.urlencode(
                {"error": "Choose an intent and at least one message."}), status=303)
        scanner = scanner_for(state.reader.url)
        texts = await asyncio.to_thread(texts_for_keys, scanner, keys)
        if not texts:
            return response.redirect(back + "&" + urllib.parse.urlencode(
                {"error": "Those messages are no longer in the conversation store."}), status=303)
        try:
            result = await asyncio.to_thread(assign, texts, intent, actor)
        except AssignError as e:
            return response.redirect(back + "&" + urllib.parse.urlencode({"error": str(e)[:400]}), status=303)
        except OSError as e:
            logger.error("Reviewed training file not written: %s", type(e).__name__)
            return response.redirect(back + "&" + urllib.parse.urlencode(
                {"error": f"The training file could not be written ({type(e).__name__}); "
                          "ask the operator to make it writable by the web app."}), status=303)
        audit.record(actor, "inbox_assign", f"intent:{intent}",
                     {"intent": intent, "keys": sorted(keys), "added": len(result.added),
                      "moved": len(result.moved), "already": len(result.already),
                      "file": _shown_path(training_file())},
                     ip=ip(request), role=role, url=state.clinic_url)
        done = "assigned" if result.added else "nothing"
        return response.redirect(back + "&done=" + done, status=303)

    return bp


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
