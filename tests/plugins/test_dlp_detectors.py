"""DLP detectors: each rule finds whole values, validated (checksums, phonenumbers, ipaddress),
and leaves look-alikes alone; plus the labelled corpus (recall and look-alike alteration)."""

from __future__ import annotations

from collections import Counter

import pytest

from plugins.dlp._scanner import ALL_RULES, DEFAULT_RULES, Scanner, ScanTimeout
from tests.plugins import dlp_corpus

DEFAULT = Scanner(DEFAULT_RULES)
EVERYTHING = Scanner(ALL_RULES)


def found(text: str, scanner: Scanner = DEFAULT) -> list[tuple[str, str]]:
    return [(f.rule.name, text[f.start:f.end]) for f in scanner.scan(text)]


@pytest.mark.parametrize("text, rule, value", [
    ("write to jane.doe+work@mail.example.co.uk.", "email", "jane.doe+work@mail.example.co.uk"),
    ("call +1 415-555-2671 today", "phone", "+1 415-555-2671"),
    ("call (415) 555-2671", "phone", "(415) 555-2671"),
    ("UK office: +44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ("Paris 01 42 68 53 00", "phone", "01 42 68 53 00"),
    ("tel:+14155552671", "phone", "+14155552671"),
    ("visa 4111 1111 1111 1111", "payment_card", "4111 1111 1111 1111"),
    ("mc 2-series 2221-0000-0000-0009", "payment_card", "2221-0000-0000-0009"),
    ("amex 3782 822463 10005", "payment_card", "3782 822463 10005"),
    ("plain 5555555555554444.", "payment_card", "5555555555554444"),
    ("IBAN DE89 3704 0044 0532 0130 00 thanks", "iban", "DE89 3704 0044 0532 0130 00"),
    ("GB29NWBK60161331926819", "iban", "GB29NWBK60161331926819"),
    ("SSN 123-45-6789", "us_ssn", "123-45-6789"),
    ("from 192.168.10.20:8080", "ip_address", "192.168.10.20"),
    ("v6 2001:db8::8a2e:370:7334 ok", "ip_address", "2001:db8::8a2e:370:7334"),
    ("OPENAI_API_KEY=sk-proj-abcDEF123_-abcDEF123_-abcDEF123", "openai_key",
     "sk-proj-abcDEF123_-abcDEF123_-abcDEF123"),
    ("key sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345-AA", "anthropic_key",
     "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345-AA"),
    ("aws AKIA2E0A8F3B244C9986", "aws_access_key", "AKIA2E0A8F3B244C9986"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8LkWp3Nd", "aws_secret_key",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8LkWp3Nd"),
    ("ghp_" + "a1B2c3" * 6, "github_token", "ghp_" + "a1B2c3" * 6),
    ("glpat-ABCdef123456ghiJKL78", "gitlab_token", "glpat-ABCdef123456ghiJKL78"),
    ("xoxb-2048376519-k3JqP9zXw2Lm", "slack_token", "xoxb-2048376519-k3JqP9zXw2Lm"),
    ("Authorization: Bearer abc123DEF456ghi789.", "bearer_token", "abc123DEF456ghi789"),
    ('{"api_key": "q9w8e7r6t5y4"}', "secret_assignment", "q9w8e7r6t5y4"),
    ("apikey: Zx81Qw72Er63", "secret_assignment", "Zx81Qw72Er63"),
    ("token=tok_4f5e6d7c8b9a", "secret_assignment", "tok_4f5e6d7c8b9a"),
    ("t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", "jwt",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
])
def test_each_rule_finds_the_whole_value(text, rule, value):
    assert (rule, value) in found(text)


def test_pem_block_is_one_whole_value_raw_escaped_or_truncated():
    block = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB3vN0qR\nAoGCCqGSM49\n-----END EC PRIVATE KEY-----"
    assert found(f"key:\n{block}\nthanks") == [("private_key", block)]
    escaped = block.replace("\n", "\\n")
    assert found(f'"key": "{escaped}"') == [("private_key", escaped)]
    truncated = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7"
    assert found(truncated + "\n\nwhat is wrong?") == [("private_key", truncated)]


@pytest.mark.parametrize("text", [
    "Order #4155552671 shipped", "version 2.31.0", "v10.0.19045.3803", "Release 1.2.3.4 is out",
    "id 123e4567-e89b-12d3-a456-426614174000", "at 2024-03-15T10:22:33.123Z", "ts 1710498153123",
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "ISBN 978-3-16-148410-0", "ISBN-10: 0-306-40615-2", "card 4111 1111 1111 1112",
    "IBAN DE89 3704 0044 0532 0130 01", "SSN 666-45-6789", "SSN 900-12-3456", "SSN 123-00-6789",
    "ip 256.1.1.1", "mac 00:1A:2B:3C:4D:5E", "std::vector<int>", "at 12:30:45",
    "max_tokens=1024", "token = os.environ['TOKEN']", "password: required", "a Bearer token",
    "sk-short", "price $1,234,567.89", "+1 123-456-7890", "52.5200, 13.4050",
])
def test_look_alikes_are_left_alone(text):
    assert found(text) == []


def test_names_and_addresses_are_opt_in():
    text = "Regards,\nJohn Smith\n123 Main Street, Springfield, IL 62704"
    assert found(text) == []
    assert found(text, EVERYTHING) == [("person_name", "John Smith"),
                                       ("postal_address", "123 Main Street, Springfield, IL 62704")]
    assert ("person_name", "Ada Lovelace") in found("Dr. Ada Lovelace wrote", EVERYTHING)


def test_overlaps_keep_the_longest_whole_value():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert found(f"Authorization: Bearer {jwt}") == [("jwt", jwt)]
    assert found("::ffff:192.0.2.128") == [("ip_address", "::ffff:192.0.2.128")]


def test_scan_past_its_deadline_raises():
    with pytest.raises(ScanTimeout):
        DEFAULT.scan("x" * 1000, deadline=0.0)


def test_a_rule_with_many_candidates_stops_at_the_deadline_midway():
    from plugins.dlp._detect_contact import find_phones
    from plugins.dlp._rule import DEADLINE

    token = DEADLINE.set(0.0)
    try:
        with pytest.raises(ScanTimeout):
            list(find_phones("call 020 7946 0958 " * 200))
    finally:
        DEADLINE.reset(token)
    assert len(list(find_phones("call 020 7946 0958 " * 200))) == 200


def test_the_scanner_runs_exactly_the_rules_whose_pre_checks_pass():
    """One pass per kind of pre-check decides for all rules what each rule's own checks would:
    no rule is skipped on a text its trigger words or digits are in (a skipped rule is a missed
    value), including overlapping words ("sk-" in "sk-ant-", "pass" and "secret" in "passecret")."""
    everything = Scanner(ALL_RULES)
    positives, lookalikes = dlp_corpus.build(seed=11, positives=300, lookalikes=300)
    texts = [s.text for s in positives + lookalikes] + [
        "sk-ant-api03-x", "Bearer x", "BEARER", "secretkey", "pwd", "a@b", "eyJ", "passecret",
        "call 555-0100", "123-45-6789", "4111 1111 1111 1111", "٣٣٣-٣٣-٣٣٣٣", "", "x" * 50]
    for text in texts:
        expected = [r for r in everything.rules if r.applies(text, text.lower)]
        assert everything.candidates(text) == expected, text[:80]
    assert {r.name for r in everything.candidates("hello, I am ada@example.com (message 7)")} \
        == {"email", "iban", "ip_address", "platform_token"} | {
            r.name for r in everything.rules if not (r.triggers or r.itriggers or r.min_digits)}


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="nope"):
        Scanner(["email", "nope"])


# -- the labelled corpus -------------------------------------------------------------------------

def test_corpus_recall_and_look_alikes():
    positives, lookalikes = dlp_corpus.build(seed=5, positives=900, lookalikes=900)
    total, covered, misses = Counter(), Counter(), []
    for sample in positives:
        finds = DEFAULT.scan(sample.text)
        for rule, start, end in sample.values:
            total[rule] += 1
            # Whole-value masking: one mask covers the value from its first to its last character.
            if any(f.start <= start and f.end >= end for f in finds):
                covered[rule] += 1
            else:
                misses.append((rule, sample.genre))
    recall = sum(covered.values()) / sum(total.values())
    assert sum(total.values()) > 1000 and set(total) >= {"email", "phone", "payment_card", "iban",
                                                         "us_ssn", "ip_address", "secret", "jwt",
                                                         "private_key"}
    assert recall >= 0.97, (recall, misses[:20])
    for rule in total:  # no rule may hide behind the others' average
        assert covered[rule] / total[rule] >= 0.9, rule
    altered = [s.text for s in lookalikes if DEFAULT.scan(s.text)]
    assert len(altered) / len(lookalikes) <= 0.03, altered[:10]
    genres = Counter(s.genre for s in positives)
    assert set(genres) == {"prose", "code", "json", "logs", "email"}


def test_a_text_seen_recently_is_not_scanned_again():
    """Agents resend the whole conversation every turn: the history is a look-up, not a scan,
    and the answer is the same. A changed text, or one pushed out of the cache, is scanned."""
    import dataclasses

    runs: list[str] = []
    scanner = Scanner(DEFAULT_RULES, cache_entries=2)
    email = next(r for r in scanner.rules if r.name == "email")

    def counting(text: str):
        runs.append(text)
        return email.find(text)

    scanner.rules = tuple(dataclasses.replace(r, find=counting) if r is email else r
                          for r in scanner.rules)
    history = "write to ada@example.com about the launch"
    first = scanner.scan(history)
    assert [history[f.start:f.end] for f in first] == ["ada@example.com"]
    assert scanner.scan(history) == first and len(runs) == 1
    scanner.scan(history + " and bob@example.org")  # a new text: scanned
    scanner.scan("a third text, ada@example.com")  # the cache holds two: the oldest leaves
    assert scanner.scan(history) == first and len(runs) == 4
    uncached = Scanner(DEFAULT_RULES, cache_entries=0)
    spans = [(f.start, f.end, f.rule.name) for f in first]
    assert [(f.start, f.end, f.rule.name) for f in uncached.scan(history)] == spans
