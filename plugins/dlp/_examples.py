"""Values that have the shape of a secret but are documentation: placeholders and published
example keys. Masking them only adds noise (and breaks the docs a user pastes to ask about), so
secret rules drop them; identifiers (cards, IBANs) are not filtered here: a test card number is
still a card number to a compliance officer.
"""

from __future__ import annotations

import re

# Keys published in vendors' documentation, so they are in every tutorial and README.
DOCUMENTED_EXAMPLES = frozenset({
    "AKIAIOSFODNN7EXAMPLE",  # AWS
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",  # AWS
    "AKIAI44QH8DHBEXAMPLE",  # AWS
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe
    "pk_test_TYooMQauvdEDq54NiTphI7jx",  # Stripe
    "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",  # SendGrid
    # jwt.io's sample token
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
    "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
})
# "your-api-key-here", "<YOUR_TOKEN>", "${API_KEY}", "{{ secret }}", "%TOKEN%", "changeme".
_PLACEHOLDER_RE = re.compile(
    r"(?i)^[\"'<({\[]*(?:your|insert|put|enter|replace)[\-_ .]?.*(?:here|key|token|secret"
    r"|password|id)[\"'>)}\]]*$"
    r"|^<[^<>]+>$|^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$|^\{\{.*\}\}$|^%[A-Za-z_]+%$"
    r"|(?:^|[\-_])(?:x{4,}|\*{4,}|\.{4,}|0{8,}|1234567890|abcdef0123|example|placeholder|dummy"
    r"|redacted|changeme|notarealkey|fake|sample)(?:[\-_]|$)"
    r"|EXAMPLE(?:KEY)?$")
# Known prefixes: the body after them is what must look random.
_PREFIX_RE = re.compile(
    r"^(?:sk-(?:proj-|ant-(?:api\d\d-)?|svcacct-|admin-)?|sk_(?:live|test)_|rk_(?:live|test)_"
    r"|pk_(?:live|test)_|A[KS]IA|gh[pousr]_|github_pat_|glpat-|xox[baprs]-|hf_|npm_|pypi-|SG\."
    r"|key-|shpat_|shpss_|dop_v1_|xkeysib-|AIza)")


def body_of(value: str) -> str:
    m = _PREFIX_RE.match(value)
    return value[m.end():] if m else value


def is_example(value: str) -> bool:
    """True for a placeholder or a documented example: all one character after its prefix
    (`AKIAXXXXXXXXXXXXXXXX`, `sk-********`), a few distinct characters in a long body, "your …
    here" phrasing, template variables, or a key the vendor published as an example."""
    if value in DOCUMENTED_EXAMPLES:
        return True
    body = body_of(value)
    distinct = len(set(body.lower()) - set("-_."))
    if len(body) >= 8 and distinct <= 2:
        return True
    return _PLACEHOLDER_RE.search(value) is not None
