"""Credentials: provider and cloud keys, VCS and chat tokens, the tokens of 200+ platforms from
the gitleaks rule set, bearer tokens, labelled credentials (`api_key=`, `password:` in config and
in prose, passwords in URLs), JWTs (the whole token) and PEM private-key blocks (the whole block).
Placeholders and documented example keys are never secrets (`_examples`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from plugins.dlp import _ruleset
from plugins.dlp._examples import is_example
from plugins.dlp._rule import Check, Finder, Rule, check_deadline, keyword_spans, spans

# Each pattern starts with its literal prefix (CPython's `re` then skips ahead with a fast search)
# and checks the character before it with a lookbehind placed after the prefix.
_END = r"(?![\w\-])"
OPENAI_RE = re.compile(
    r"sk-(?<![\w\-]sk-)(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}" + _END)
ANTHROPIC_RE = re.compile(r"sk-ant-(?<![\w\-]sk-ant-)[A-Za-z0-9_\-]{20,}" + _END)
AWS_ID_RE = re.compile(r"A[KS]IA(?<![A-Za-z0-9]A[KS]IA)[A-Z0-9]{16}(?![A-Za-z0-9])")
GITHUB_RE = re.compile(r"(?:gh[pousr]_(?<![\w\-]gh._)[A-Za-z0-9]{36,251}"
                       r"|github_pat_(?<![\w\-]github_pat_)[A-Za-z0-9_]{22,255})" + _END)
GITLAB_RE = re.compile(r"glpat-(?<![\w\-]glpat-)[A-Za-z0-9_\-]{20,}" + _END)
SLACK_RE = re.compile(r"xox(?<![\w\-]xox)[baprs]-[A-Za-z0-9\-]{10,}" + _END)
JWT_RE = re.compile(r"eyJ(?<![\w\-.]eyJ)[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
                    r"(?![\w\-]|\.[\w\-])")
PEM_RE = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----"
    # Unterminated (a truncated paste): the base64 lines that follow, raw or JSON-escaped.
    r"(?:[\s\S]*?-----END \1-----|(?:(?:\s|\\[nr])*[A-Za-z0-9+/=]{16,})*)"
)

# Keyword rules: the keyword is found in the lower-cased text, the pattern matched from there.
_Q = r"\\?[\"']?"  # an optional quote, maybe JSON-escaped: "key": "…" inside a JSON string
AWS_SECRET_KW = re.compile(r"aws_?secret|secret_?access")
AWS_SECRET_RE = re.compile(
    r"(?i:aws_?secret(?:_?access)?_?key|secret_?access_?key)" + _Q + r"\s*[:=]\s*" + _Q +
    r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
BEARER_KW = re.compile(r"bearer")
BEARER_RE = re.compile(
    r"\b(?i:bearer)\s+([A-Za-z0-9._~+/\-]{15,}[A-Za-z0-9_~+/\-]=*)(?![\w~+/\-=]|\.[\w\-])")
_ASSIGN_NAMES = (r"api[_\-]?key|apikey|access[_\-]?token|auth[_\-]?token|refresh[_\-]?token|token|"
                 r"client[_\-]?secret|secret[_\-]?key|secret|passphrase|password|passwd|pwd|pass")
ASSIGN_KW = re.compile(_ASSIGN_NAMES)
# `api_key=…`, `"apikey": "…"`, `DB_PASSWORD=…`, `<password>…</password>`, and prose: "the
# password for the staging db is …". The value alone is masked. The label may end a longer name
# (`DB_PASSWORD`, `stripe.secret`), never start a word (`tokenizer`, `passport`).
ASSIGN_RE = re.compile(
    r"(?<![A-Za-z0-9])(?i:" + _ASSIGN_NAMES + r")(?![A-Za-z0-9])"
    r"(?:\s+(?i:for|of|to|on)(?:\s+[\w.@:/\-]+){1,3}?)?" + _Q +
    r"(?:[ \t]*(?:=>|:=|=|:)[ \t]*|>(?=[^<>\s]+</)"
    r"|[ \t]+(?i:is|was)[ \t]+(?:(?i:now|still|set[ \t]+to)[ \t]+)?)"
    + _Q +
    r"([^\s\"'`,;()\[\]{}<>\\]{5,}[^\s\"'`,;()\[\]{}<>\\.!?:])")
# scheme://user:password@host: the password alone.
URL_CREDENTIAL_RE = re.compile(
    r"://(?<=[A-Za-z0-9+.\-]://)[^\s:/@\"'<>]{0,64}:([^\s/@\"'<>]{3,128})@[A-Za-z0-9\[]")
_PASSWORD_LABELS = ("pass", "pwd")


def _credential(value: str, text: str, start: int, end: int) -> bool:
    """A token carries digits; a password may not, but then mixes cases or symbols. Prose
    ("token: required", "password is incorrect") and code (`token = os.environ`) do neither."""
    if value.startswith("[") or is_example(value) or not _not_code(value):
        return False
    label = text[max(0, start - 48):start].lower()
    classes = (any(c.islower() for c in value) + any(c.isupper() for c in value)
               + any(c.isdigit() for c in value) + any(not c.isalnum() for c in value))
    if any(k in label for k in _PASSWORD_LABELS) and len(value) >= 6 and classes >= 2:
        return True
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)  # not a price


def _not_code(value: str) -> bool:
    """`os.environ['TOKEN']`, `self.token`, `getenv(…)`, `${VAR}`: code that reads a secret."""
    return not (value.startswith(("os.", "self.", "this.", "process.", "$", "%", "env.", "config.",
                                  "/", "~/", "./"))  # and paths: sudo logs' PWD=/home/…
                or value.endswith(")"))


def _token_like(value: str, text: str, start: int, end: int) -> bool:
    """A credential has digits in it; prose ("token: required") and code (`token = os.environ`)
    do not. Our own placeholders are never secrets."""
    return any(c.isdigit() for c in value) and not value.startswith("[") and not is_example(value)


def _pem_end(text: str, start: int, end: int) -> int:
    return len(text[start:end].rstrip())


def find_pem(text: str) -> Iterable[tuple[int, int]]:
    for m in PEM_RE.finditer(text):
        yield m.start(), m.start() + _pem_end(text, m.start(), m.end())


def _not_example(value: str, text: str, start: int, end: int) -> bool:
    return not is_example(value)


def _not_example_pw(value: str, text: str, start: int, end: int) -> bool:
    return not is_example(value) and value.lower() not in ("password", "pass", "pwd", "secret")


def find_platform_tokens(text: str) -> Iterable[tuple[int, int]]:
    rules = _ruleset.load()
    for start, end, _ in _ruleset.find(text, text.lower(), rules, check_deadline):
        if not is_example(text[start:end]):
            yield start, end


def _finder(pattern: re.Pattern[str], group: int = 0, check: Check = _not_example) -> Finder:
    return lambda text: spans(pattern, text, group, check)


def _keyword_finder(keywords: re.Pattern[str], pattern: re.Pattern[str], group: int = 0,
                    check: Check = _not_example) -> Finder:
    return lambda text: keyword_spans(keywords, pattern, text, group, check)


RULES = (
    Rule("private_key", "PRIVATE_KEY", "secrets", find_pem, "PEM private-key blocks (whole block)",
         triggers=("-----BEGIN",), priority=1),
    Rule("jwt", "JWT", "secrets", _finder(JWT_RE), "JSON Web Tokens (whole token)",
         triggers=("eyJ",), priority=5),
    Rule("anthropic_key", "API_KEY", "secrets", _finder(ANTHROPIC_RE), "Anthropic API keys (sk-ant-)",
         triggers=("sk-ant-",), priority=5),
    Rule("openai_key", "API_KEY", "secrets", _finder(OPENAI_RE), "OpenAI API keys (sk-, sk-proj-)",
         triggers=("sk-",), priority=6),
    Rule("aws_access_key", "AWS_KEY", "secrets", _finder(AWS_ID_RE), "AWS access key ids (AKIA/ASIA)",
         triggers=("AKIA", "ASIA"), priority=5),
    Rule("aws_secret_key", "AWS_SECRET", "secrets", _keyword_finder(AWS_SECRET_KW, AWS_SECRET_RE, 1),
         "AWS secret access keys in assignments", itriggers=("secret",), priority=5),
    Rule("github_token", "TOKEN", "secrets", _finder(GITHUB_RE),
         "GitHub tokens (ghp_, gho_, ghs_, ghu_, ghr_, github_pat_)",
         triggers=("ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"), priority=5),
    Rule("gitlab_token", "TOKEN", "secrets", _finder(GITLAB_RE), "GitLab personal access tokens",
         triggers=("glpat-",), priority=5),
    Rule("slack_token", "TOKEN", "secrets", _finder(SLACK_RE), "Slack tokens (xoxb-, xoxp-, …)",
         triggers=("xox",), priority=5),
    Rule("bearer_token", "TOKEN", "secrets", _keyword_finder(BEARER_KW, BEARER_RE, 1, _token_like),
         "the token after 'Bearer'", itriggers=("bearer",), priority=30),
    Rule("secret_assignment", "SECRET", "secrets", _keyword_finder(ASSIGN_KW, ASSIGN_RE, 1, _credential),
         "labelled credentials: values given to api_key, token, secret, password, pwd and similar "
         "labels in config formats and in prose",
         itriggers=("key", "token", "secret", "pass", "pwd"), priority=35),
    Rule("url_credential", "SECRET", "secrets", _finder(URL_CREDENTIAL_RE, 1, _not_example_pw),
         "the password in scheme://user:password@host URLs", triggers=("://",), priority=34),
    Rule("platform_token", "TOKEN", "secrets", find_platform_tokens,
         f"tokens of over 200 developer and SaaS platforms ({_ruleset.VERSION} rule set, with "
         "its keyword, entropy and allow-list guards)", priority=8),
)
