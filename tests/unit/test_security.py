import logging

import pytest

from backend import clock
from backend.errors import DomainError
from backend.security import signatures, tokens
from backend.security.pii import PhoneMaskingFilter, PiiCipher, mask_phone, normalize_phone

KEY = b"0123456789abcdef0123456789abcdef"


def test_phone_round_trips_through_encryption_and_ciphertexts_differ():
    cipher = PiiCipher(KEY)
    first, second = cipher.encrypt("13800138000"), cipher.encrypt("13800138000")
    assert first != second
    assert "13800138000" not in first
    assert cipher.decrypt(first) == cipher.decrypt(second) == "13800138000"


def test_a_value_encrypted_under_another_key_does_not_decrypt():
    token = PiiCipher(b"x" * 32).encrypt("13800138000")
    with pytest.raises(ValueError, match="does not decrypt"):
        PiiCipher(KEY).decrypt(token)


def test_blind_index_is_stable_keyed_and_separates_kinds():
    cipher = PiiCipher(KEY)
    assert cipher.blind_index("phone", "13800138000") == cipher.blind_index("phone", "13800138000")
    assert cipher.blind_index("phone", "13800138000") != cipher.blind_index("email", "13800138000")
    assert cipher.blind_index("phone", "13800138000") != PiiCipher(b"y" * 32).blind_index("phone", "13800138000")


@pytest.mark.parametrize(("raw", "expected"), [
    ("13800138000", "13800138000"), ("+86 138-0013-8000", "13800138000"), ("8613800138000", "13800138000"),
])
def test_phone_numbers_are_normalised(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12800138000", "1380013800", "138001380001", "abc", "+1 415 555 0100"])
def test_malformed_phone_numbers_are_a_validation_error_naming_the_field(raw):
    with pytest.raises(DomainError) as caught:
        normalize_phone(raw)
    assert caught.value.code == "VALIDATION_FAILED"
    assert "phone" in caught.value.details["fields"]


def test_phone_masking():
    assert mask_phone("13800138000") == "138****8000"


def test_log_filter_masks_phone_numbers_in_messages_and_arguments():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "member %s called from +8613912345678", ("13800138000",), None)
    PhoneMaskingFilter().filter(record)
    assert record.getMessage() == "member 138****8000 called from 139****5678"


def test_signature_covers_method_path_timestamp_nonce_and_body():
    args = ("POST", "/api/v1/integrations/orders", "1700000000", "nonce-123456", b'{"a":1}')
    signature = signatures.sign("secret", *args)
    assert signatures.signature_matches("secret", signature, *args)
    for index, changed in enumerate(["GET", "/api/v1/other", "1700000001", "nonce-654321", b'{"a":2}']):
        altered = list(args)
        altered[index] = changed
        assert not signatures.signature_matches("secret", signature, *altered)
    assert not signatures.signature_matches("other-secret", signature, *args)


def test_tokens_expire_by_the_injected_clock():
    manual = clock.ManualClock()
    clock.install(manual)
    try:
        token = tokens.issue("k" * 40, audience="member", subject="42", ttl_s=60)
        assert tokens.verify("k" * 40, token, audience="member")["sub"] == "42"
        with pytest.raises(DomainError, match="UNAUTHENTICATED"):
            tokens.verify("k" * 40, token, audience="staff")
        manual.advance(61)
        with pytest.raises(DomainError) as caught:
            tokens.verify("k" * 40, token, audience="member")
        assert caught.value.details == {"reason": "expired"}
    finally:
        clock.reset()
