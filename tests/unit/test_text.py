from plera.text import clean_line, clean_text, has_control


def test_nul_and_controls_are_dropped_but_line_breaks_stay():
    assert clean_text("hello\x00world\x07\r\n\tok") == "helloworld\r\n\tok"


def test_a_lone_surrogate_becomes_the_replacement_character():
    assert clean_text("caf\udce9") == "caf\ufffd"


def test_a_line_has_no_breaks():
    assert clean_line("Alice\r\nBcc: x@evil.example") == "Alice  Bcc: x@evil.example"


def test_control_characters_are_found():
    assert has_control("Alice\r\nBcc") and has_control("a\x00") and not has_control("Alice Smith")
