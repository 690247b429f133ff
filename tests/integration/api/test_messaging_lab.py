"""The Messaging Lab through the API: messages, approvals, overrides, senders, previews, readiness, the launch gate."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from plera.aggregates.enrollment import LeadEnrollment

from .conftest import Api, assert_problem

EMAIL_BODY = "Hi {{ lead.first_name | default('there') }},\n\nShort note.\n\nUnsubscribe: {{ unsubscribe_url }}"
NOTE = "Hi {{ lead.first_name | default('there') }}, glad to connect."
SEED = [
    {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
]
LEADS = [
    {"first_name": "Ada", "email": "ada@acme.example", "linkedin_url": "linkedin.com/in/ada", "company": "Acme"},
    {"first_name": "", "email": "bo@beta.example", "company": "Beta"},  # no first name, no LinkedIn
    {"first_name": "Cy", "linkedin_url": "linkedin.com/in/cy", "company": ""},  # no email, no company
]


def lab(
    api: Api, catch_up, steps: list[dict[str, Any]] | None = None, leads: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    run = api.run()
    group = api.group(run)
    imported = api.import_leads(group, LEADS if leads is None else leads)
    api.enrich(group)
    sequence = api.sequence(run, [group], SEED if steps is None else steps)
    catch_up()
    return {"run": run, "group": group, "sequence": sequence, "leads": imported["lead_ids"]}


def put_message(
    api: Api, sequence: str, step: int, body: str, subject: str | None = None, lead: str | None = None
) -> dict[str, Any]:
    path = f"/v1/sequences/{sequence}" + (f"/leads/{lead}" if lead else "") + f"/steps/{step}/message"
    return api.ok(api.put(path, json={"subject": subject, "body": body}))


def approve(api: Api, sequence: str, step: int, lead: str | None = None) -> dict[str, Any]:
    path = f"/v1/sequences/{sequence}" + (f"/leads/{lead}" if lead else "") + f"/steps/{step}/approve"
    return api.ok(api.post(path))


def write_all(api: Api, sequence: str) -> None:
    put_message(api, sequence, 1, NOTE)
    put_message(api, sequence, 2, EMAIL_BODY, subject="About {{ lead.company | default('your team') }}")
    put_message(api, sequence, 3, EMAIL_BODY)


def choose_senders(api: Api, sequence: str, **fields: Any) -> dict[str, str]:
    senders = {
        "email": api.sender("email", **fields.get("email", {})),
        "linkedin": api.sender("linkedin", **fields.get("linkedin", {})),
    }
    api.ok(api.put(f"/v1/sequences/{sequence}/senders", json={k: [v] for k, v in senders.items()}))
    return senders


def readiness(api: Api, sequence: str) -> dict[str, Any]:
    return api.ok(api.get(f"/v1/sequences/{sequence}/readiness"))


def codes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["code"]: f for f in report["findings"]}


def test_launch_is_refused_with_the_findings_then_allowed_once_they_are_fixed(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]

    refused = assert_problem(api.post(f"/v1/sequences/{seq}/launch"), 409, "launch_blocked")
    blocking = {f["code"] for f in refused["findings"]}
    assert {"step_not_approved", "no_sender_for_channel"} <= blocking
    assert all(f["severity"] == "blocking" for f in refused["findings"])
    assert api.ok(api.get(f"/v1/sequences/{seq}"))["status"] == "draft"

    write_all(api, seq)
    choose_senders(api, seq)
    for step in (1, 2, 3):
        approve(api, seq, step)
    report = readiness(api, seq)
    assert report["ready"], report
    launched = api.ok(api.post(f"/v1/sequences/{seq}/launch"))
    assert (launched["status"], launched["enrolled"]) == ("active", 3)
    assert [s["message"]["approved_version"] for s in launched["steps"]] == [1, 1, 1]


def test_the_launch_pins_the_approved_versions(api, catch_up, services):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    choose_senders(api, seq)
    for step in (1, 2, 3):
        approve(api, seq, step)
    put_message(api, seq, 3, EMAIL_BODY + "\nP.S.")
    approve(api, seq, 3)
    api.ok(api.post(f"/v1/sequences/{seq}/launch"))

    stored = services.events.app.recorder.select_events(UUID(seq))
    launches = [services.events.app.mapper.to_domain_event(e) for e in stored if e.topic.endswith("SequenceLaunched")]
    assert [(m["step"], m["version"]) for m in launches[0].messages] == [(1, 1), (2, 1), (3, 2)]


def test_editing_an_approved_message_withdraws_its_approval_but_not_the_text_that_goes_out(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    approve(api, seq, 2)

    edited = put_message(api, seq, 2, EMAIL_BODY + "\nThanks!", subject="New subject")
    message = edited["steps"][1]["message"]
    assert (message["version"], message["approved"], message["approved_version"]) == (2, False, 1)
    assert message["author"] == "person"
    same = put_message(api, seq, 2, EMAIL_BODY + "\nThanks!", subject="New subject")
    assert same["steps"][1]["message"]["version"] == 2  # the same text again is no new version
    assert 2 in codes(readiness(api, seq))["step_not_approved"]["steps"]


def test_a_lead_override_is_shown_to_that_lead_only_and_approved_on_its_own(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    ada, bo = ids["leads"][0], ids["leads"][1]
    write_all(api, seq)
    choose_senders(api, seq)
    for step in (1, 2, 3):
        approve(api, seq, step)
    put_message(api, seq, 2, "Ada, we met at the fair. {{ unsubscribe_url }}", subject="The fair", lead=ada)

    step_not_approved = codes(readiness(api, seq))["step_not_approved"]
    assert (step_not_approved["steps"], step_not_approved["lead_count"]) == ([2], 1)
    mine = api.ok(api.get(f"/v1/sequences/{seq}/previews", params={"lead_id": ada}))["items"][1]
    theirs = api.ok(api.get(f"/v1/sequences/{seq}/previews", params={"lead_id": bo}))["items"][1]
    assert (mine["override"], mine["subject"], mine["approved"]) == (True, "The fair", False)
    assert mine["body"].startswith("Ada, we met at the fair.")
    assert (theirs["override"], theirs["subject"]) == (False, "About Beta")

    approve(api, seq, 2, lead=ada)
    assert readiness(api, seq)["ready"]
    assert_problem(api.post(f"/v1/sequences/{seq}/leads/{bo}/steps/2/approve"), 409, "no_message")


def test_previews_resolve_variables_use_fallbacks_and_thread_later_emails(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    senders = choose_senders(api, seq)
    bo = ids["leads"][1]

    items = api.ok(api.get(f"/v1/sequences/{seq}/previews", params={"lead_id": bo}))["items"]
    assert [i["step"] for i in items] == [1, 2, 3]
    first, follow_up = items[1], items[2]
    assert first["body"].startswith("Hi there,")
    assert first["fallbacks_used"] == ["lead.first_name"]
    assert first["variables"]["lead.first_name"] is None and first["variables"]["lead.company"] == "Beta"
    assert "/v1/unsubscribe/" in first["variables"]["unsubscribe_url"]
    assert first["variables"]["unsubscribe_url"] in first["body"]
    assert follow_up["subject"] == "Re: About Beta"
    assert first["sender_id"] == senders["email"] and items[0]["sender_id"] == senders["linkedin"]
    assert items[0]["subject"] is None
    sample = api.ok(api.get(f"/v1/sequences/{seq}/previews", params={"limit": 2}))["items"]
    assert len(sample) == 2 * 3
    assert_problem(api.get(f"/v1/sequences/{seq}/previews", params={"limit": 501}), 422, "invalid_request")


def test_previews_name_each_lead_and_show_the_steps_it_skips_with_the_reason(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    ada, bo, cy = ids["leads"]

    items = api.ok(api.get(f"/v1/sequences/{seq}/previews"))["items"]
    by_lead = {(i["lead_id"], i["step"]): i for i in items}
    assert {(i["lead_id"], i["lead_name"], i["company"]) for i in items} == {
        (ada, "Ada", "Acme"),
        (bo, None, "Beta"),  # a blank first name is no name
        (cy, "Cy", None),
    }
    bo_invite, cy_email = by_lead[(bo, 1)], by_lead[(cy, 2)]
    assert (bo_invite["skipped"], bo_invite["skip_reason"], bo_invite["body"]) == (True, "no LinkedIn URL", "")
    assert (cy_email["skipped"], cy_email["skip_reason"]) == (True, "no email address")
    assert (cy_email["subject"], cy_email["body"], cy_email["variables"]) == (None, "", {})
    assert by_lead[(cy, 3)]["skip_reason"] == "no email address"
    ada_steps = [by_lead[(ada, n)] for n in (1, 2, 3)]
    assert [(i["skipped"], i["skip_reason"]) for i in ada_steps] == [(False, None)] * 3
    assert ada_steps[1]["body"].startswith("Hi Ada,")


def test_a_reordered_draft_step_keeps_its_message_and_approval(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    approve(api, seq, 1)
    steps = api.ok(api.get(f"/v1/sequences/{seq}"))["steps"]
    moved = [
        {"key": steps[1]["key"], **{k: steps[1][k] for k in ("channel", "delay_days", "condition")}},
        {"key": steps[0]["key"], **{k: steps[0][k] for k in ("channel", "delay_days", "condition")}},
        {"key": steps[2]["key"], **{k: steps[2][k] for k in ("channel", "delay_days", "condition")}},
    ]
    after = api.ok(api.patch(f"/v1/sequences/{seq}", json={"steps": moved}))["steps"]
    assert [(s["channel"], s["message"]["approved"]) for s in after[:2]] == [
        ("email", False),
        ("linkedin_invite", True),
    ]
    assert after[1]["message"]["body"] == NOTE
    assert_problem(
        api.patch(f"/v1/sequences/{seq}", json={"steps": [{**moved[0], "key": "nope"}]}), 422, "invalid_value"
    )


def test_offline_drafts_cover_every_step_and_are_not_approved(api, catch_up):
    ids = lab(api, catch_up)
    profile = api.ok(
        api.post(
            "/v1/strategy-profiles",
            json={
                "name": "P",
                "offer": "pipeline reviews",
                "persona": "heads of sales",
                "tone": "friendly",
                "call_to_action": "a short call",
                "language": "en",
                "signature": "Alex",
                "avoid_words": ["synergy"],
            },
        ),
        201,
    )["id"]
    seq = api.ok(
        api.post(
            "/v1/sequences",
            json={
                "run_id": ids["run"],
                "name": "Drafted",
                "strategy_profile_id": profile,
                "source_group_ids": [ids["group"]],
                "steps": SEED,
            },
        ),
        201,
    )["id"]
    drafted = api.ok(api.post(f"/v1/sequences/{seq}/drafts"))
    messages = [s["message"] for s in drafted["steps"]]
    assert all(m["author"] == "offline" and m["model"] == "offline" and not m["approved"] for m in messages)
    assert messages[1]["subject"] and "{{ unsubscribe_url }}" in messages[1]["body"]
    choose_senders(api, seq)
    report = readiness(api, seq)
    assert set(codes(report)) - {"step_not_approved", "missing_channel_address"} == set(), report
    no_profile = api.sequence(ids["run"], [ids["group"]], SEED)
    assert_problem(api.post(f"/v1/sequences/{no_profile}/drafts"), 422, "invalid_value")


# ---- every readiness code


def test_template_errors_unknown_variables_and_email_rules_are_blocking(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    put_message(api, seq, 1, "Hi {{ lead.first_name | default('x') }} {{ lead.phone }} {{ unsubscribe_url }}")
    put_message(api, seq, 2, "Hello {{ lead.first_name ", subject="")  # syntax error, and the thread has no subject
    put_message(api, seq, 3, "No link here {{ lead.first_name | default('x') }}")
    found = codes(readiness(api, seq))

    assert found["unknown_variable"]["steps"] == [1]
    assert (
        "lead.phone" in found["unknown_variable"]["detail"] and "unsubscribe_url" in found["unknown_variable"]["detail"]
    )
    assert found["template_error"]["steps"] == [2]
    assert found["email_missing_subject"]["steps"] == [2]
    assert found["email_missing_unsubscribe"]["steps"] == [3]
    for code in ("unknown_variable", "template_error", "email_missing_subject", "email_missing_unsubscribe"):
        assert found[code]["severity"] == "blocking"

    put_message(api, seq, 3, "   ")
    assert codes(readiness(api, seq))["email_missing_body"]["steps"] == [3]


def test_a_variable_without_fallback_is_blocking_with_the_number_of_leads_it_leaves_blank(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    put_message(api, seq, 2, "Hi {{ lead.first_name }} at {{ lead.company }}. {{ unsubscribe_url }}", subject="Hi")
    found = codes(readiness(api, seq))["empty_variable"]
    # Bo has no first name and Cy no company: two of three leads would see a blank
    assert (found["severity"], found["steps"], found["lead_count"]) == ("blocking", [2], 2)


def test_a_blank_sender_signature_without_fallback_is_an_empty_variable(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    put_message(api, seq, 3, "Thanks. {{ sender.signature }} {{ unsubscribe_url }}")
    choose_senders(api, seq)  # no signature, and the sequence has no strategy profile
    found = codes(readiness(api, seq))["empty_variable"]
    assert found["steps"] == [3] and "sender.signature" in found["detail"]


def test_linkedin_texts_longer_than_the_limits_are_blocking_per_lead(api, catch_up):
    long_company = {"first_name": "Di", "linkedin_url": "linkedin.com/in/di", "company": "C" * 150}
    ids = lab(
        api,
        catch_up,
        steps=[SEED[0], {"channel": "linkedin_message", "delay_days": 1, "condition": "no_reply"}],
        leads=[*LEADS, long_company],
    )
    seq = ids["sequence"]
    note = "Hello {{ lead.first_name | default('there') }}, " + "x" * 100 + " {{ lead.company | default('') }}"
    put_message(api, seq, 1, note)
    put_message(api, seq, 2, "y" * 8001)
    choose_senders(api, seq)  # a free account: notes up to 200 characters
    found = codes(readiness(api, seq))
    assert (found["linkedin_note_too_long"]["steps"], found["linkedin_note_too_long"]["lead_count"]) == ([1], 1)
    assert (found["linkedin_message_too_long"]["steps"], found["linkedin_message_too_long"]["lead_count"]) == ([2], 4)

    seq_premium = lab(api, catch_up, steps=[SEED[0]], leads=[long_company])["sequence"]
    put_message(api, seq_premium, 1, note)
    api.ok(api.put(f"/v1/sequences/{seq_premium}/senders", json={"linkedin": [api.sender("linkedin", premium=True)]}))
    assert "linkedin_note_too_long" not in codes(readiness(api, seq_premium))  # premium: 300 characters


def test_senders_missing_paused_or_short_of_capacity_are_reported(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    missing = [f for f in readiness(api, seq)["findings"] if f["code"] == "no_sender_for_channel"]
    assert sorted(f["steps"] for f in missing) == [[1], [2, 3]]  # one finding per channel

    senders = choose_senders(api, seq)
    api.ok(api.post(f"/v1/sender-accounts/{senders['email']}/pause", json={"reason": "warming up"}))
    found = codes(readiness(api, seq))
    assert found["no_sender_for_channel"]["steps"] == [2, 3] and "paused" in found["no_sender_for_channel"]["detail"]

    many = [{"email": f"p{i}@many.example"} for i in range(12)]
    crowded = lab(api, catch_up, steps=[SEED[1]], leads=many)["sequence"]
    put_message(api, crowded, 1, EMAIL_BODY, subject="Hi")
    api.ok(api.put(f"/v1/sequences/{crowded}/senders", json={"email": [api.sender("email", daily_limit=2)]}))
    capacity = codes(readiness(api, crowded))["sender_capacity"]
    assert (capacity["severity"], capacity["lead_count"]) == ("warning", 12)
    assert "6 sending days" in capacity["detail"]


def test_missing_addresses_and_no_leads_are_warnings(api, catch_up):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    write_all(api, seq)
    addresses = [f for f in readiness(api, seq)["findings"] if f["code"] == "missing_channel_address"]
    # Bo has no LinkedIn URL (step 1), Cy no email (steps 2 and 3)
    assert sorted((f["severity"], f["steps"], f["lead_count"]) for f in addresses) == [
        ("warning", [1], 1),
        ("warning", [2, 3], 1),
    ]

    run = api.run()
    empty_group = api.group(run)
    api.enrich(empty_group)
    empty = api.sequence(run, [empty_group], SEED)
    catch_up()
    assert codes(readiness(api, empty))["no_eligible_leads"]["severity"] == "warning"


def test_avoid_words_of_the_strategy_profile_are_a_warning(api, catch_up):
    ids = lab(api, catch_up)
    profile = api.ok(
        api.post(
            "/v1/strategy-profiles",
            json={
                "name": "P",
                "offer": "o",
                "persona": "p",
                "tone": "t",
                "call_to_action": "c",
                "language": "en",
                "signature": "S",
                "avoid_words": ["synergy"],
            },
        ),
        201,
    )["id"]
    seq = api.ok(
        api.post(
            "/v1/sequences",
            json={
                "run_id": ids["run"],
                "name": "Words",
                "strategy_profile_id": profile,
                "source_group_ids": [ids["group"]],
                "steps": [SEED[1]],
            },
        ),
        201,
    )["id"]
    put_message(api, seq, 1, "Real Synergy! " + EMAIL_BODY, subject="Hi")
    found = codes(readiness(api, seq))["avoid_word"]
    assert (found["severity"], found["steps"], found["detail"]) == (
        "warning",
        [1],
        "step 1 uses a word to avoid: synergy",
    )


def test_a_lead_imported_after_launch_is_enrolled_with_a_sender(api, catch_up, services):
    ids = lab(api, catch_up)
    seq = ids["sequence"]
    assert api.launch(seq)["enrolled"] == 3
    added = api.import_leads(ids["group"], [{"first_name": "Eve", "email": "eve@late.example"}])
    eve = added["lead_ids"][0]
    state = api.enrollments_of(eve)
    assert [(e["sequence_id"], e["status"]) for e in state] == [(seq, "active")]
    enrollment = services.events.get(LeadEnrollment.create_id(UUID(seq), UUID(eve)), LeadEnrollment)
    assert set(enrollment.senders) == {"email", "linkedin"}


@pytest.mark.parametrize("path", ["steps/9/message", "leads/{lead}/steps/9/message"])
def test_a_step_that_does_not_exist_is_refused(api, catch_up, path):
    ids = lab(api, catch_up)
    url = f"/v1/sequences/{ids['sequence']}/" + path.format(lead=ids["leads"][0])
    assert_problem(api.put(url, json={"body": "x"}), 422, "invalid_value")


def test_an_invite_without_a_note_is_previewed_so_and_needs_no_message(api, catch_up):
    ids = lab(api, catch_up, steps=[SEED[0]])
    seq = ids["sequence"]
    api.ok(api.patch(f"/v1/sequences/{seq}", json={"settings": {"invite_without_note": True}}))
    item = api.ok(api.get(f"/v1/sequences/{seq}/previews", params={"lead_id": ids["leads"][0]}))["items"][0]
    assert (item["body"], item["error"]) == ("", None)
    assert "without a note" in item["note"]
    api.ok(api.put(f"/v1/sequences/{seq}/senders", json={"linkedin": [api.sender("linkedin")]}))
    assert readiness(api, seq)["ready"]  # the invite needs no message, so nothing waits for approval
    assert api.ok(api.post(f"/v1/sequences/{seq}/launch"))["status"] == "active"
