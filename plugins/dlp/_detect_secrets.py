"""Credentials: provider and cloud keys, VCS and chat tokens, bearer tokens, `api_key=` style
assignments, JWTs (the whole token) and PEM private-key blocks (the whole block)."""

from __future__ import annotations

import re
from typing import Iterable

from plugins.dlp._rule import Rule, keyword_spans, spans

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
                 r"secret|client[_\-]?secret|secret[_\-]?key|password|passwd|pwd")
ASSIGN_KW = re.compile(_ASSIGN_NAMES)
# `api_key=…`, `"apikey": "…"`, `token: …` and friends; the value alone is masked.
ASSIGN_RE = re.compile(r"\b(?i:" + _ASSIGN_NAMES + r")" + _Q + r"\s*(?:=|:)\s*" + _Q +
                       r"([^\s\"'`,;()\[\]{}<>\\]{7,}[^\s\"'`,;()\[\]{}<>\\.])")


def _token_like(value: str, text: str, start: int, end: int) -> bool:
    """A credential has digits in it; prose ("token: required") and code (`token = os.environ`)
    do not. Our own placeholders are never secrets."""
    return any(c.isdigit() for c in value) and not value.startswith("[")


def _pem_end(text: str, start: int, end: int) -> int:
    return len(text[start:end].rstrip())


def find_pem(text: str) -> Iterable[tuple[int, int]]:
    for m in PEM_RE.finditer(text):
        yield m.start(), m.start() + _pem_end(text, m.start(), m.end())


def _finder(pattern, group: int = 0, check=None):
    return lambda text: spans(pattern, text, group, check)


def _keyword_finder(keywords, pattern, group: int = 0, check=None):
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
    Rule("secret_assignment", "SECRET", "secrets", _keyword_finder(ASSIGN_KW, ASSIGN_RE, 1, _token_like),
         "values assigned to api_key, apikey, token, secret, password and similar names",
         itriggers=("key", "token", "secret", "pass", "pwd"), priority=35),
)
