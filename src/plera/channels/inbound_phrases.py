"""The words of inbound mail in English, German, French and Spanish, and the rules that read them.

Every table is written in folded form (see `fold`): lower case, accents removed, "ß" as "ss",
typographic apostrophes as "'". Text is folded before it is matched, so "Réponse automatique",
"REPONSE AUTOMATIQUE" and "réponse automatique" are one phrase.

The rules, as the classifier applies them to a message's new text (quotes and signature removed):
- the new text (`new_text`) ends at the first quote header (attribution lines, Outlook separators
  and header blocks, "-- " signatures, mobile footers), and has no ">" lines. An attribution with
  nothing written above it and ">" lines after it is bottom-posting: only it is dropped;
- an automatic reply is named by the start of its subject ("Automatic reply: …", "Out of Office",
  "Abwesenheitsnotiz", "Réponse automatique", "Respuesta automática", "AUTO:", ...; the rest of a
  reply's subject is ours), or by text that declares itself automatic ("This is an automatic
  reply", "Abwesenheitsnotiz", "message d'absence", ...), or, only in a text of at most
  `SHORT_AUTO_WORDS` words, by a statement of absence ("I am out of the office", "Automatic reply",
  "on vacation", "I'm away until", "limited access to email", "Ich bin bis … nicht im Büro",
  "außer Haus", "je suis absent", "en congé", "estoy fuera", "de vacaciones", ...). A person may
  write such a statement in a human reply; a long text with one is taken as a reply, because
  treating a human reply as automatic would resume the follow-ups they answered;
- an unsubscribe request is a clear request ("remove me from your list", "take me off your list",
  "stop emailing me", "please don't contact me", "tragen Sie mich aus", "keine weiteren E-Mails",
  "ne plus recevoir", "darme de baja", "no me escriba", ...) within the first `CLEAR_REQUEST_WORDS`
  words; or a bare word ("unsubscribe", "opt out", "abmelden", "austragen", "désabonner", "baja")
  in a text of at most `SHORT_REQUEST_WORDS` words; or a text or subject (without its "Re:"
  prefixes) that is nothing but such a word ("Unsubscribe", "STOP", "Remove me"). A long reply that
  merely mentions the word is a reply;
- a return date is the latest date after a return word ("until", "back on", "returning", "bis
  zum", "ab dem", "jusqu'au", "de retour le", "hasta el", "regreso el", ...), else the latest date
  anywhere in the text; dates in the past or more than `MAX_AWAY_DAYS` ahead are ignored. A date
  without a year is its next occurrence on or after today, unless it passed within the last
  `RECENTLY_PASSED_DAYS` (then it is an absence's start, or a stale notice, and ignored). A slashed
  date is month first after an English return word ("returning 03/14"), day first after another,
  and skipped when both orders are possible and no return word says which.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

SHORT_AUTO_WORDS = 80
CLEAR_REQUEST_WORDS = 60
SHORT_REQUEST_WORDS = 12
MAX_AWAY_DAYS = 366
RECENTLY_PASSED_DAYS = 183


def fold(text: str) -> str:
    """Lower case, no accents, "ß" as "ss", straight apostrophes and plain spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.casefold().replace("\u2019", "'").replace("\u2018", "'").replace("\xa0", " ")


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


# --- quoted threads -------------------------------------------------------------------------------

# Each alternative has one unbounded part before a fixed word, so a long line costs linear time.
ATTRIBUTION = re.compile(
    r"^(?:on\s.*\bwrote"  # Gmail, Apple Mail, Thunderbird: "On Mon, Mar 2, 2026 at 9:00 AM Alex <…> wrote:"
    r"|am\s.*\bschrieb\b[^:]*"  # "Am 02.03.2026 um 09:00 schrieb Alex <…>:"
    r"|.*\bschrieb am\b.*"  # "Alex schrieb am 02.03.2026 um 09:00:"
    r"|le\s.*\ba ecrit"  # "Le lun. 2 mars 2026 à 09:00, Alex <…> a écrit :"
    r"|el\s.*\bescribio"  # "El lun, 2 mar 2026 a las 9:00, Alex (<…>) escribió:"
    r")\s*:$"
)
ATTRIBUTION_ANY = re.compile(r"^.*\b(?:wrote|schrieb|a ecrit|escribio)\s*:$")  # with an address or a date in it
ATTRIBUTION_START = re.compile(r"^(?:on|am|le|el)\s")
SEPARATOR = re.compile(
    r"^(?:-{2,}\s*(?:original message|ursprungliche nachricht|urspr\. nachricht|message d'origine"
    r"|mensaje original|forwarded message|weitergeleitete nachricht|message transfere|mensaje reenviado)\s*-{2,}"
    r"|_{20,}|begin forwarded message\s*:|anfang der weitergeleiteten nachricht\s*:"
    r"|-{2,}\s*this is a copy of the message\b.*|-{2,}\s*below this line is a copy of the message\b.*)$"
)
_BOLD = r"[*\s]*"
HEADER_FROM = re.compile(rf"^{_BOLD}(?:from|von|de|da){_BOLD}:")
HEADER_SENT = re.compile(rf"^{_BOLD}(?:sent|date|gesendet|datum|envoye|enviado|fecha|inviato|data){_BOLD}:")
HEADER_TO = re.compile(rf"^{_BOLD}(?:to|an|a|para|cc|subject|betreff|objet|asunto|oggetto){_BOLD}:")
HEADERS_ON_ONE_LINE = re.compile(r"^\W*from\W*:.{0,300}\b(?:sent|date)\W*:.{0,300}\b(?:to|subject)\W*:")
MOBILE_SIGNATURE = re.compile(
    r"^(?:sent from my \w+|sent from (?:outlook|mail) for|get outlook for \w+|von meinem \w+ gesendet"
    r"|envoye de mon \w+|enviado desde mi \w+)"
)


def new_text(body: str) -> str:
    """The body without its quoted thread and signature (see the module's rules)."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    folded = [fold(line).strip() for line in lines]
    kept: list[str] = []
    skip_until = 0
    for i, line in enumerate(lines):
        if i < skip_until:
            continue
        if line.rstrip() == "--":  # "-- ", the signature separator, often loses its space
            break
        attribution = _attribution_lines(folded, i)
        if attribution or _quote_starts(folded, i):
            if attribution and not any(k.strip() for k in kept) and _next_line_quoted(folded, i + attribution - 1):
                skip_until = i + attribution  # bottom-posting: answers follow between the quoted lines
                continue
            break
        if not folded[i].startswith(">"):
            kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def is_attribution(line: str) -> bool:
    """Whether a folded line introduces a quote: "On … wrote:", "Am … schrieb …:", and the like."""
    if len(line) > 600 or not line.endswith(":"):
        return False
    return bool(ATTRIBUTION.match(line) or (ATTRIBUTION_ANY.match(line) and re.search(r"[@\d]", line)))


def _attribution_lines(folded: list[str], i: int) -> int:
    """How many lines the attribution starting at line i spans (Gmail wraps long ones), or 0."""
    line = folded[i]
    if is_attribution(line):
        return 1
    if ATTRIBUTION_START.match(line) and not line.endswith(":"):
        joined = line
        for extra, following in enumerate(folded[i + 1 : i + 3], start=2):
            joined = f"{joined} {following}"
            if is_attribution(joined):
                return extra
    return 0


def _quote_starts(folded: list[str], i: int) -> bool:
    """Whether line i starts a quote other than an attribution: a separator or a header block."""
    line = folded[i]
    if not line or len(line) > 600:
        return False
    if SEPARATOR.match(line) or MOBILE_SIGNATURE.match(line) or HEADERS_ON_ONE_LINE.match(line):
        return True
    if HEADER_FROM.match(line):
        block = [f for f in folded[i + 1 : i + 8] if f]
        return any(HEADER_SENT.match(f) for f in block) and any(HEADER_TO.match(f) for f in block)
    return False


def _next_line_quoted(folded: list[str], i: int) -> bool:
    following = next((f for f in folded[i + 1 :] if f), "")
    return following.startswith(">")


# --- automatic replies ----------------------------------------------------------------------------

# Subjects that start by naming the message automatic: "Automatic reply: …", "AUTO: …" (Notes).
# Only the start counts: the rest of a reply's subject is usually ours ("Re: Your vacation plans").
AUTO_SUBJECT = re.compile(
    r"^\W*(?:\[[^\]]{0,30}\]\s*)?"  # a tag such as "[EXT]", but no "Re:": after it, the subject is ours
    r"(?:auto:|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (?:the )?office|ooo\b"
    r"|vacation (?:reply|response|notice)|abwesenheitsnotiz|automatische antwort|abwesend"
    r"|reponse automatique|absence du bureau|absente?\b|respuesta automatica|fuera de la oficina|ausencia\b)"
)
# Text that declares itself automatic, whatever its length: "This is an automatic reply."
AUTO_STRONG = re.compile(
    r"\b(?:this is an? (?:automatic|automated|auto-generated|auto)[- ]?(?:reply|response|message|e-?mail|notification)"
    r"|dies ist eine automatische (?:antwort|nachricht|benachrichtigung)|abwesenheitsnotiz"
    r"|ceci est une reponse automatique|ceci est un message automatique|message d'absence"
    r"|esta es una respuesta automatica|este es un mensaje automatico|mensaje de ausencia)\b"
)
# Statements of absence, and mentions of automation: a person may write these in a short human
# note too ("I'm out of the office this week, call me"), so they count only in short texts.
AUTO_WEAK = re.compile(
    r"\b(?:automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|autoresponder|automatische antwort"
    r"|reponse automatique|respuesta automatica|out of (?:the )?office|limited access to (?:my )?e-?mails?|i am away|i'm away|i am currently away"
    r"|away from (?:the|my) (?:office|desk)|on (?:vacation|holiday|leave)|(?:parental|maternity|paternity|sick) leave"
    r"|nicht im (?:buro|hause)|ausser haus|im urlaub|abwesend"
    r"|absente? du bureau|absence du bureau|je suis (?:actuellement )?absente?|en conge|en vacances"
    r"|fuera de la oficina|estoy (?:actualmente )?fuera|de vacaciones|de permiso)\b"
)
OUT_OF_OFFICE = re.compile(
    r"\b(?:out of (?:the )?office|away (?:from|until|till)|i'm away|i am (?:currently )?away|vacation|holiday"
    r"|on leave|abwesen\w*|nicht im (?:buro|hause)|ausser haus|urlaub|absente?|absence|conge|vacances"
    r"|fuera de la oficina|estoy (?:actualmente )?fuera|vacaciones|ausencia|de permiso)\b"
)

# --- unsubscribe requests -------------------------------------------------------------------------

UNSUBSCRIBE_CLEAR = re.compile(
    r"\b(?:remove (?:me|us|my (?:e-?mail|address|details|contact|data)(?: address)?) from (?:your|this|the|all|any)\b(?! cc)"
    r"|take (?:me|us) off\b|unsubscribe (?:me|us)\b|opt (?:me|us) out|please unsubscribe"
    r"|(?:want|wish|like) to unsubscribe|stop (?:e-?mailing|contacting|messaging|spamming|writing to|sending me)"
    r"|(?:do not|don't|dont|never) (?:contact|e-?mail|message|write to) (?:me|us)\b(?! (?:the|a|an|your|it|this|that)\b)"
    r"|no (?:more|further) e-?mails"
    r"|tragen sie mich\b.{0,40}\baus\b|melden sie mich\b.{0,40}\bab\b"
    r"|mich (?:bitte )?(?:(?:aus|von) (?:ihrem|ihrer|dem|der|diesem|dieser|eurem|eurer) (?:\w+ )?"
    r"(?:verteiler|liste|newsletter|mailingliste|e-?mail-?liste|datenbank) )?(?:austragen|abmelden)"
    r"|keine (?:weiteren )?(?:e-?mails|mails|nachrichten) mehr|keine weiteren (?:e-?mails|mails|nachrichten)"
    r"|nicht mehr (?:kontaktieren|anschreiben|anmailen)|(?:entfernen|loschen) sie mich"
    r"|desabonne|desinscri|ne (?:\w+ ){0,2}plus (?:recevoir|me contacter|m'ecrire)|ne me contactez plus|retirez-moi"
    r"|(?:dar|darme|denme|deme) de baja|no me (?:escriba|escriban|contacte|contacten|envie|envien)"
    r"|eliminar(?:me)? de (?:su|sus|la|esta|vuestra) (?:lista|base)|eliminenme|no quiero recibir)"
)
UNSUBSCRIBE_BARE = re.compile(
    r"\b(?:unsubscribe|opt[- ]?out|abmelden|austragen|abbestellen|desabonner|desinscription|baja)\b"
)
UNSUBSCRIBE_ONLY = re.compile(
    r"\W*(?:please\W+|bitte\W+)?(?:unsubscribe(?: me)?|remove(?: me)?|stop|opt[- ]?out|abmelden|austragen"
    r"|desabonner|desinscription|baja|darme de baja)\W*(?:please|bitte)?\W*"
)
REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|aw|wg|fw|fwd|tr|rv|sv|antw|r)\s*(?:\[\d+\])?\s*:)+")


def auto_reply_phrase(subject: str, text: str) -> str | None:
    """The phrase that names the message automatic, or None (both arguments folded)."""
    found = AUTO_SUBJECT.search(subject) or AUTO_STRONG.search(text)
    if found is None and len(words(text)) <= SHORT_AUTO_WORDS:
        found = AUTO_WEAK.search(text)
    return found.group(0) if found else None


def unsubscribe_phrase(subject: str, text: str) -> str | None:
    """The words by which a human asks to be removed, or None (both arguments folded)."""
    bare_subject = REPLY_PREFIX.sub("", subject).strip()
    if bare_subject and UNSUBSCRIBE_ONLY.fullmatch(bare_subject):
        return bare_subject
    if UNSUBSCRIBE_ONLY.fullmatch(text.strip()):
        return text.strip()
    found = UNSUBSCRIBE_CLEAR.search(" ".join(text.split()[:CLEAR_REQUEST_WORDS]))
    if found is None and len(words(text)) <= SHORT_REQUEST_WORDS:
        found = UNSUBSCRIBE_BARE.search(text)
    return found.group(0) if found else None


# --- return dates ---------------------------------------------------------------------------------

MONTHS = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    # German (folded: "März" is "marz")
    "januar": 1, "janner": 1, "februar": 2, "marz": 3, "maerz": 3, "mrz": 3, "mai": 5, "juni": 6, "juli": 7,
    "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
    # French
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4, "avr": 4, "juin": 6,
    "juillet": 7, "juil": 7, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
    # Spanish
    "enero": 1, "ene": 1, "febrero": 2, "marzo": 3, "abril": 4, "abr": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "ago": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "dic": 12,
}  # fmt: skip
WEEKDAYS = (
    "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"
    "|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonnabend|sonntag"
    "|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
    "|lunes|martes|miercoles|jueves|viernes|sabado|domingo"
)
# Return words, each with whether a slashed date after it is month first (US English) or day first.
RETURN_WORDS: tuple[tuple[str, bool], ...] = (
    (
        r"until|till|'til|through|thru|after|back(?: in(?: the)? office| at (?:my|the) desk| at work)?(?: on)?"
        r"|return(?:ing)?(?: to (?:the|my) office)?(?: on)?",
        True,
    ),
    (
        r"bis(?: einschliesslich| einschl\.| inkl\.)?(?: zum| zur| am)?|ab(?: dem| den)?|zuruck(?: am)?|wieder(?: am| ab)?",
        False,
    ),
    (r"jusqu'(?:au|a)|au|(?:de )?retour(?: au bureau)?(?: le)?|a partir du|a compter du|des le", False),
    (r"hasta(?: el)?|al|(?:de )?regreso(?: el)?|regresare(?: el)?|vuelvo(?: el)?|volvere(?: el)?|a partir del", False),
)
_ARTICLE = r"(?:(?:the|le|el|den|dem|zum)\s+)?"
_RETURN_BEFORE = [
    (re.compile(rf"\b(?:{w})\s+{_ARTICLE}(?:(?:{WEEKDAYS})\.?,?\s+{_ARTICLE})?$"), month_first)
    for w, month_first in RETURN_WORDS
]
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|o|\.)?\s*(?:of\s+|de\s+)?({_MONTH})\b\.?(?:,?\s*(?:del?\s+)?(\d{{4}}))?"
)
_MONTH_DAY = re.compile(rf"\b({_MONTH})\b\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?![:\d])(?:,?\s+(\d{{4}})\b)?")
_ISO = re.compile(r"(?<![\d.])\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DOTTED = re.compile(r"(?<![\d.])\b(\d{1,2})\.(\d{1,2})\.(?:(\d{4}|\d{2})\b|(?!\d))")
_SLASHED = re.compile(r"(?<![\d/])\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b(?!/)")


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    first: int  # day, or month when the date is slashed and month_first applies
    second: int
    year: int | None
    kind: str  # "dm" (day, month), "md" (month, day) or "slash" (order from the context)


def return_date(text: str, today: date) -> date | None:
    """The date on which the writer says they are back, or None (text folded)."""
    anchored: list[date] = []
    loose: list[date] = []
    for found in _dates_in(text):
        month_first = _return_word_before(text[max(0, found.start - 60) : found.start])
        if found.kind == "dm":
            day, month = found.first, found.second
        elif found.kind == "md":
            month, day = found.first, found.second
        elif found.first > 12 or found.second > 12:  # "14/03" or "03/14": only one order is a date
            day, month = (found.first, found.second) if found.first > 12 else (found.second, found.first)
        elif month_first is not None:
            month, day = (found.first, found.second) if month_first else (found.second, found.first)
        else:
            continue  # "03/04" with nothing to say which is the month
        resolved = _resolve(day, month, found.year, today)
        if resolved is not None:
            (anchored if month_first is not None else loose).append(resolved)
    candidates = anchored or loose
    return max(candidates) if candidates else None


def _return_word_before(window: str) -> bool | None:
    """Whether a return word ends the window: None if none does, else whether it is month first."""
    for pattern, month_first in _RETURN_BEFORE:
        if pattern.search(window):
            return month_first
    return None


def _dates_in(text: str) -> Iterator[_Found]:
    found: list[_Found] = []
    for m in _DAY_MONTH.finditer(text):
        found.append(_Found(m.start(), m.end(), int(m[1]), MONTHS[m[2]], _year(m[3]), "dm"))
    for m in _MONTH_DAY.finditer(text):
        found.append(_Found(m.start(), m.end(), MONTHS[m[1]], int(m[2]), _year(m[3]), "md"))
    for m in _ISO.finditer(text):
        found.append(_Found(m.start(), m.end(), int(m[3]), int(m[2]), int(m[1]), "dm"))
    for m in _DOTTED.finditer(text):
        found.append(_Found(m.start(), m.end(), int(m[1]), int(m[2]), _year(m[3]), "dm"))
    for m in _SLASHED.finditer(text):
        found.append(_Found(m.start(), m.end(), int(m[1]), int(m[2]), _year(m[3]), "slash"))
    taken_until = -1
    for candidate in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if candidate.start >= taken_until:
            taken_until = candidate.end
            yield candidate


def _year(digits: str | None) -> int | None:
    if not digits:
        return None
    year = int(digits)
    return year + 2000 if year < 100 else year


def _resolve(day: int, month: int, year: int | None, today: date) -> date | None:
    """The date meant, or None when it is past, too far ahead, or no date at all.

    A date without a year is its next occurrence on or after today, except that one which passed
    within the last `RECENTLY_PASSED_DAYS` is taken as past (the start of the absence, or a stale
    notice), not as next year's.
    """
    if year is not None:
        resolved = _valid_date(year, month, day)
    else:
        resolved = _valid_date(today.year, month, day)
        if resolved is None or resolved < today - timedelta(days=RECENTLY_PASSED_DAYS):
            resolved = _valid_date(today.year + 1, month, day)
    if resolved is None or not today <= resolved <= today + timedelta(days=MAX_AWAY_DAYS):
        return None
    return resolved


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
