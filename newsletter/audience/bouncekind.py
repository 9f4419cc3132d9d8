"""Hard or soft: whether a failed delivery says the address is dead (RFC 3463, read strictly).

A hard bounce suppresses at once and for good, so it must only ever mean "this address
does not or will not exist". Everything about the message, the sender or the moment is
soft, even when the server gave up: a soft bounce only counts toward
`bounces.soft_limit` (several issues in a row still retire the address).

| status           | what it says                                   | kind |
|------------------|------------------------------------------------|------|
| 4.x.x            | temporary, whatever the words                  | soft |
| 5.1.0-3, 5.1.6, 5.1.10 | bad mailbox, bad domain, bad syntax, moved, null MX | hard |
| other 5.1.x      | the sender's address (5.1.7, 5.1.8), ambiguous | soft |
| 5.2.x            | mailbox full, over quota, disabled, too big    | soft |
| 5.3.x .. 5.6.x   | the receiving system, routing, protocol, content | soft |
| 5.4.4 + "host/domain not found" | no such domain                  | hard |
| 5.4.1 + "Recipient address rejected: Access denied" | Office 365: no such recipient | hard |
| 5.7.x            | policy, spam, blocklists, authentication       | soft |
| 5.0.0 / none     | the diagnostic text decides (below)            |      |

With no status, or a generic one (x.0.0, a bare `550`), the server's own words decide:
first the wording of a soft cause (a full mailbox, a blocklist, spam, policy,
authentication, a rate limit; each MTA words them its own way), then the wording of a
dead address (user unknown, no such domain, has moved, does not accept mail). A server
reply whose words name neither is soft: refusals for policy or content come in endless
wordings, a dead mailbox in few. Only when the bounce quotes no server reply at all
(older formats that just list the failed addresses) does its own verdict stand: failed
for good is hard. A 4xx reply code is soft whatever the words. Even a 5.1.1 is soft
when its words name a blocklist or spam filter (some servers answer every refusal with
5.1.1).
"""

from __future__ import annotations

import re

__all__ = ["HARD", "SOFT", "classify", "undecided"]

HARD = "hard"
SOFT = "soft"

_STATUS_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
_HARD_STATUS = {(1, 0), (1, 1), (1, 2), (1, 3), (1, 6), (1, 10)}
_GENERIC = {(0, 0), (3, 0), (5, 0)}  # x.0.0, and 5.3.0 / 5.5.0 that some servers give an unknown user
# A 5.1.x whose words name a blocklist, spam, relaying or a full mailbox is not about a
# dead address, whatever its code (qmail-toaster says "user over quota. (#5.1.1)").
_BLOCK_WORDS = re.compile(r"\bblock(ed|list|listed)\b|black ?list|\brbl\b|\bdnsbl\b|spamhaus|spamcop|"
                          r"barracuda|\bspam\b|reputation|relay|\bquota\b|(mail ?box|mail ?folder|inbox) (is )?full",
                          re.IGNORECASE)

# Dead for good, although the words look like a soft cause ("disabled").
_HARD_FIRST = re.compile(r"disabled or discontinued|account (has been )?(closed|deleted|terminated|removed)|"
                         r"(user|mailbox|account) (no longer|does not) exists?", re.IGNORECASE)

# Causes about the message, the sender or the moment. Checked first: a refusal that
# blames a blocklist is soft even when the server calls it "user unknown" as well.
_SOFT_WORDS = re.compile("|".join((
    # mailbox full, quota, size
    r"mailbox (is )?full", r"over ?quota", r"\bquota\b", r"quota (exceeded|exceed)", r"exceeded (the )?(storage|quota)",
    r"insufficient (system )?storage", r"disk quota", r"mailbox size limit", r"storage (space|limit)",
    r"mail ?box (has )?exceeded", r"exceeds? (the )?(size|storage|maximum)", r"message (is )?too (big|large)",
    r"out of (disk |storage )?space", r"full mailbox", r"(inbox|mail ?folder) is full", r"no space left",
    r"enough (storage |disk )?space", r"space has been used up", r"too many messages", r"too much mail",
    r"storage allocation", r"exceeds? (the )?allowed size",
    # blocklists, reputation, spam
    r"\bblock(ed|list|listed)\b", r"black ?list", r"\brbl\b", r"\bdnsbl\b", r"spamhaus", r"spamcop", r"barracuda",
    r"sorbs", r"\bspam\b", r"junk mail", r"reputation", r"\bbanned\b", r"\bdenied\b", r"\bdeny\b",
    r"\bpolicy\b", r"policies", r"prohibited", r"not (allowed|permitted|authori[sz]ed)", r"unauthori[sz]ed",
    r"content (rejected|filter)", r"virus", r"malware", r"phish", r"suspicious", r"looks like",
    r"\bdmarc\b", r"\bspf\b", r"\bdkim\b", r"authenticat", r"reverse dns", r"\bptr\b", r"\bhelo\b",
    r"\brdns\b", r"sender (address |domain )?(rejected|denied|verify|unknown|does not)", r"relay(ing)? (access )?denied",
    r"not relay", r"unable to relay", r"relay not permitted",
    # the moment: rate limits, greylisting, the system's trouble
    r"rate limit", r"too many", r"prohibition", r"looping", r"try (again )?later", r"temporar", r"greylist",
    r"graylist", r"throttl",
    r"resources? (temporarily )?unavailable", r"system (is )?(busy|overloaded)", r"timed? ?out",
    r"connection (refused|reset|closed|timed)", r"loop(s)? (back|detected)", r"mail loop", r"hop count",
    r"\bdisabled\b", r"\bsuspended\b", r"\binactive\b", r"\bfrozen\b", r"\blocked\b", r"on hold",
    r"not (yet )?activated", r"expired", r"could not be delivered within",
    # Japanese (au/KDDI, docomo, SoftBank and Japanese MTAs)
    "容量", "いっぱい", "拒否", "迷惑",
)), re.IGNORECASE)

# A dead address: the mailbox or the domain does not exist, moved, or takes no mail at all.
_HARD_WORDS = re.compile("|".join((
    r"user (is )?unknown", r"unknown (user|recipient|mailbox|address|local[- ]part)", r"no such (user|mailbox|"
    r"recipient|address|account|person|domain|local user)", r"(user|mailbox|recipient|address|account|"
    r"addressee|destination)( address)? (does not|doesn't|did not) exist", r"does not exist",
    r"(invalid|bad|unrouteable|unroutable|nonexistent|non-existent) (recipient|mailbox|address|user|"
    r"destination|e-?mail)", r"recipient (address )?rejected: (user unknown|undeliverable address|"
    r"unknown)", r"not (a )?(valid|known) (user|recipient|mailbox)", r"is not a valid mailbox",
    r"mailbox (not found|unavailable|not available|does not exist|is unavailable)", r"user not found",
    r"address not found", r"recipient not found", r"account (has been )?(closed|deleted|removed|"
    r"terminated|cancel+ed)", r"(no|unknown) mailbox", r"no mailbox here", r"unknown or illegal alias",
    r"addressee unknown", r"not listed in (domino|the directory|public name)", r"no such (account|address)",
    r"user doesn't have a .* account", r"the email account that you tried to reach does not exist",
    r"couldn't be found", r"could not be found", r"wasn't found at", r"address (is )?(invalid|unknown)",
    r"recipient (is )?(invalid|unknown)", r"sorry, no mailbox", r"that domain isn't in my list",
    r"host (or domain name )?not found", r"domain (name )?not found", r"no such domain", r"unknown domain",
    r"domain (does not|doesn't) exist", r"nxdomain", r"unrouteable address", r"unroutable address",
    r"mx (record )?(lookup|check) failed", r"no mx", r"name service error .*host not found",
    r"has moved", r"moved to", r"no longer (valid|active|in use|exists|available|at)", r"(does not|doesn't) "
    r"accept (e-?)?mail", r"accepts no mail", r"null mx", r"not accepting (any )?mail", r"this user doesn't",
    r"user account (is )?(expired|unavailable)", r"mailbox unavailable", r"retired", r"unknown host",
    r"not present in (the )?directory", r"can't accept user", r"destination addresses were unknown",
    r"rejected recipients", r"not an active address", r"no account by that name", r"no such person",
    r"no mail ?box (here|available|found|by that name)", r"not a (valid|local) (recipient|user|address)",
    r"recipient (is )?not local", r"badrcptto", r"not in my validrcptto", r"no one at this address",
    r"no longer accepts", r"email name is not found", r"utilisateur inconnu", r"no existe (dicha persona|ese usuario)",
    r"nessun utente", r"user (not active|not exist|not known|missing home directory)", r"unknown e-?mail address",
    r"invalid or unknown virtual user", r"does not exist at the organi[sz]ation", r"unknown local[- ]?part",
    r"undeliverable address", r"invalid final delivery userid", r"not a valid (e-?mail )?address",
    # Japanese: "no such address", "does not exist"
    "存在しません", "宛先不明", "該当するユーザ",
)), re.IGNORECASE)

_REPLY_CODE_RE = re.compile(r"(?<![\d.])([245])\d\d(?:[ -]|$)")


def classify(status: str | None, diagnostic: str) -> tuple[str, str]:
    """(hard or soft, the status code to record) for one failed recipient.

    `status` is the enhanced code the bounce gives (None when it gives none);
    `diagnostic` the server's words, reply code included where the bounce has it.
    """
    code = _parse(status)
    if code is None or code[1:] in _GENERIC:
        return _by_words(code, diagnostic)
    klass, subject, detail = code
    text = status or ""
    if klass != 5:
        return SOFT, text
    if (subject, detail) in _HARD_STATUS:
        return (SOFT if _BLOCK_WORDS.search(diagnostic) else HARD), text
    if (subject, detail) == (4, 1) and re.search(r"recipient address rejected: access denied", diagnostic, re.I):
        return HARD, "5.1.1"  # Office 365 directory-based edge blocking: no such recipient
    if (subject, detail) == (4, 4) and re.search(r"host (or domain name )?not found|no such domain|nxdomain",
                                                 diagnostic, re.IGNORECASE):
        return HARD, "5.1.2"
    return SOFT, text


def _by_words(code: tuple[int, int, int] | None, diagnostic: str) -> tuple[str, str]:
    """Generic or missing status: the reply code's class, then the server's words."""
    reply = _REPLY_CODE_RE.search(diagnostic)
    klass = code[0] if code else (int(reply.group(1)) if reply else 5)
    if klass == 4 or (reply and reply.group(1) == "4"):
        return SOFT, "4.0.0"
    if _HARD_FIRST.search(diagnostic):
        return HARD, "5.1.1"
    if _soft_words(diagnostic):
        return SOFT, "5.0.0"
    if _HARD_WORDS.search(diagnostic):
        return HARD, "5.1.1"
    if code is not None and code[1:] != (0, 0):
        return SOFT, ".".join(map(str, code))  # 5.3.0, 5.5.0: a system or protocol trouble
    if reply:
        return SOFT, "5.0.0"  # the server's own words, naming no cause we know: not proof of a dead address
    return HARD, "5.0.0"  # given up for good, with no words at all that would name a passing cause


def undecided(status: str | None, diagnostic: str) -> bool:
    """Nothing to go on: no specific status, and words that name no cause either way."""
    code = _parse(status)
    return (code is None or code[1:] in _GENERIC) and not _soft_words(diagnostic) and \
        not _HARD_WORDS.search(diagnostic) and not _HARD_FIRST.search(diagnostic)


def _soft_words(diagnostic: str) -> bool:
    return bool(_SOFT_WORDS.search(diagnostic))


def _parse(status: str | None) -> tuple[int, int, int] | None:
    match = _STATUS_RE.match((status or "").strip())
    return None if match is None else (int(match.group(1)), int(match.group(2)), int(match.group(3)))
