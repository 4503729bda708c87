//! The errors a user tells apart: one for every status the emulator answers a client with,
//! each with its predicate and a text that says each thing once.

use std::collections::HashSet;
use std::error::Error as _;
use std::time::Duration;

use parallel_client::{Client, Error, RetryPolicy, StatusCode};
use parallel_emulator::{Emulator, EmulatorHandle, Faults};
use parallel_types::{CreateTaskGroupRequest, RunInput, Webhook};

use crate::common::{KEY, client, client_with, emulator};

/// Words of an error text, lower case, without the punctuation around them.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Fails when the error's text, or that of any error in its `source()` chain, has a word
/// twice in a row or a two-word phrase twice, or repeats the text of its own source.
fn assert_says_each_thing_once(error: &Error) {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        let words = words(&text);
        for pair in words.windows(2) {
            assert_ne!(pair[0], pair[1], "a repeated word in: {text}");
        }
        let mut phrases = HashSet::new();
        for pair in words.windows(2) {
            assert!(phrases.insert(pair), "{pair:?} twice in: {text}");
        }
        if let Some(source) = e.source() {
            let cause = source.to_string();
            assert!(!text.contains(&cause), "{text} repeats its source {cause}");
        }
        current = e.source();
    }
}

fn no_retries(emu: &EmulatorHandle) -> Client {
    client_with(emu, RetryPolicy::none())
}

fn lite(question: &str) -> RunInput {
    RunInput::new(question, "lite")
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_once() {
    let emu = emulator(Faults::none()).await;
    let client = Client::builder()
        .api_key("not-the-key")
        .base_url(emu.base_url())
        .build()
        .unwrap();
    let error = client.group("tgrp_x").get().await.unwrap_err();
    assert!(error.is_unauthorized() && error.is_api(), "{error:?}");
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
    let text = error.to_string();
    assert_eq!(text.matches("Unauthorized").count(), 1, "{text}");
    assert!(text.contains("PARALLEL_API_KEY"), "{text}");
    assert_says_each_thing_once(&error);
    emu.shutdown().await;
}

#[tokio::test]
async fn forbidden_not_found_invalid_and_still_active_are_told_apart() {
    let emu = crate::common::emulator_scaled(1.0).await;
    let client = client(&emu);

    let forbidden = client
        .create_run(RunInput::new("q", "no-such-processor"))
        .await
        .unwrap_err();
    assert!(forbidden.is_forbidden(), "{forbidden:?}");
    assert!(!forbidden.is_invalid_request() && !forbidden.is_not_found());

    let not_found = client.group("tgrp_missing").get().await.unwrap_err();
    assert!(not_found.is_not_found(), "{not_found:?}");
    let run_not_found = client.get_run("trun_missing").await.unwrap_err();
    assert!(run_not_found.is_not_found(), "{run_not_found:?}");

    let off_machine = lite("q").with_webhook(Webhook::new("http://example.com/hook"));
    let invalid = client.create_run(off_machine).await.unwrap_err();
    assert!(invalid.is_invalid_request(), "{invalid:?}");
    assert_eq!(invalid.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    assert!(!invalid.is_forbidden() && !invalid.is_unauthorized());

    // A `lite` run at full scale takes 10 s or more: `/result` answers 408 while it runs, and
    // the call waits as long as its timeout says, under a second included (the server's
    // wait is whole seconds), and says so.
    let run = client.create_run(lite("slow")).await.unwrap();
    let mut still_active = Vec::new();
    for wait in [Duration::from_millis(300), Duration::from_millis(1500)] {
        let started = std::time::Instant::now();
        let error = client
            .run_result(&run.run_id)
            .timeout(wait)
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert!(error.is_timeout() && error.source().is_some(), "{error:?}");
        assert!(
            waited >= wait && waited < wait + Duration::from_millis(400),
            "waited {waited:?} for a timeout of {wait:?}"
        );
        let text = error.to_string();
        assert!(text.contains(&format!("after waiting {wait:?}")), "{text}");
        still_active.push(error);
    }

    for error in [
        &forbidden,
        &not_found,
        &run_not_found,
        &invalid,
        &still_active[0],
        &still_active[1],
    ] {
        assert_says_each_thing_once(error);
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn no_credit_and_a_body_too_large_are_told_apart() {
    let emu = Emulator::builder()
        .api_key(KEY)
        .time_scale(0.0)
        .credits(Some(0))
        .max_body_bytes(512)
        .start()
        .await
        .unwrap();
    let client = no_retries(&emu);
    let credit = client.create_run(lite("q")).await.unwrap_err();
    assert!(credit.is_insufficient_credit(), "{credit:?}");
    let too_large = client
        .create_run(lite(&"x".repeat(2000)))
        .await
        .unwrap_err();
    assert!(too_large.is_invalid_request(), "{too_large:?}");
    assert_eq!(too_large.status(), Some(StatusCode::PAYLOAD_TOO_LARGE));
    assert_says_each_thing_once(&credit);
    assert_says_each_thing_once(&too_large);
    emu.shutdown().await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_told_apart() {
    let emu = emulator(Faults::none().rate_429(1.0)).await;
    let error = no_retries(&emu)
        .create_group(CreateTaskGroupRequest::new())
        .await
        .unwrap_err();
    assert!(error.is_rate_limited(), "{error:?}");
    assert_says_each_thing_once(&error);
    emu.shutdown().await;

    let emu = emulator(Faults::none().rate_5xx(1.0)).await;
    let client = no_retries(&emu);
    let mut seen = HashSet::new();
    for _ in 0..60 {
        let error = client.group("tgrp_x").get().await.unwrap_err();
        assert!(error.is_api() && !error.is_invalid_request(), "{error:?}");
        assert_says_each_thing_once(&error);
        seen.insert(error.status().unwrap().as_u16());
        if seen.len() == 3 {
            break;
        }
    }
    assert_eq!(seen, HashSet::from([500, 502, 503]));
    // With retries, the text says how many attempts were made, once.
    let retried = client_with(&emu, crate::common::fast_retries(2))
        .group("tgrp_x")
        .get()
        .await
        .unwrap_err();
    assert!(
        retried.to_string().contains("gave up after 3 attempts"),
        "{retried}"
    );
    assert_says_each_thing_once(&retried);
    emu.shutdown().await;
}

/// Every error status, answered the way servers word it (the reason phrase first, as the
/// emulator and the API do) and with no body at all: each text says each thing once, and
/// the predicates follow the status.
#[tokio::test]
async fn every_error_status_reads_once_with_or_without_a_message() {
    use crate::scripted::{Reply, Scripted};
    let server = Scripted::start(|request, _| {
        let status: u16 = request.path().rsplit('-').next().unwrap().parse().unwrap();
        let reason = StatusCode::from_u16(status)
            .unwrap()
            .canonical_reason()
            .unwrap_or("Error");
        if request.path().contains("/empty-") {
            Reply::json(status, "")
        } else {
            Reply::json(
                status,
                &format!(
                    r#"{{"type":"error","error":{{"ref_id":"r-1","message":"{reason}: the server's own words","detail":null}}}}"#
                ),
            )
        }
    })
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.base_url())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    for status in (400..=599).filter(|s| {
        StatusCode::from_u16(*s)
            .unwrap()
            .canonical_reason()
            .is_some()
    }) {
        for shape in ["words", "empty"] {
            let id = format!("{shape}-{status}");
            let error = client.get_run(&id).await.unwrap_err();
            assert_eq!(
                error.status().map(|s| s.as_u16()),
                Some(status),
                "{error:?}"
            );
            assert_says_each_thing_once(&error);
            assert_eq!(error.is_unauthorized(), status == 401);
            assert_eq!(error.is_forbidden(), status == 403);
            assert_eq!(error.is_not_found(), status == 404);
            assert_eq!(
                error.is_invalid_request(),
                matches!(status, 400 | 413 | 422)
            );
            assert_eq!(error.is_insufficient_credit(), status == 402);
            assert_eq!(error.is_rate_limited(), status == 429);
            if shape == "empty" {
                let reason = StatusCode::from_u16(status)
                    .unwrap()
                    .canonical_reason()
                    .unwrap();
                assert!(error.to_string().contains(reason), "{error}");
            }
        }
    }
}
