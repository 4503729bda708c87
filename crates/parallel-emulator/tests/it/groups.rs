//! Groups, adding runs, validation and authentication.

use std::time::Duration;

use http::{Method, StatusCode};
use parallel_emulator::{Emulator, Endpoint};
use serde_json::json;

use crate::{add_runs, create_group, inputs, instant, start};

#[tokio::test]
async fn create_and_retrieve_a_group_under_both_prefixes() {
    let (emu, client) = instant().await;
    let reply = client
        .post(
            "/v1/tasks/groups",
            json!({"metadata": {"batch": "q1", "attempt": 1, "dry_run": false}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let created: parallel_types::TaskGroup = serde_json::from_slice(&reply.body).unwrap();
    assert!(created.taskgroup_id.starts_with("tgrp_") && created.taskgroup_id.len() == 37);
    assert_eq!(created.status.num_task_runs, 0);
    assert!(!created.status.is_active);
    assert_eq!(reply.json()["status"]["task_run_status_counts"], json!({}));
    assert_eq!(
        reply.json()["status"]["status_message"],
        json!(null),
        "explicit null"
    );

    for prefix in ["/v1", "/v1beta"] {
        let got = client
            .get(&format!("{prefix}/tasks/groups/{}", created.taskgroup_id))
            .await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(
            got.json()["metadata"],
            json!({"batch": "q1", "attempt": 1, "dry_run": false})
        );
        assert_eq!(got.json()["created_at"], reply.json()["created_at"]);
    }
    // Empty body counts as `{}`.
    let empty = client
        .try_call(Method::POST, "/v1beta/tasks/groups", None)
        .await
        .unwrap();
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.json()["metadata"], json!(null));
    assert_eq!(emu.stats().groups_created, 2);
    assert_eq!(emu.stats().requests(Endpoint::GetGroup), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_groups_runs_and_routes_are_404() {
    let (emu, client) = instant().await;
    let missing = format!("tgrp_{}", "0".repeat(32));
    for path in [
        format!("/v1/tasks/groups/{missing}"),
        format!("/v1/tasks/groups/{missing}/runs"),
        format!("/v1/tasks/groups/{missing}/events"),
        "/v1/tasks/groups/not-an-id".to_owned(),
    ] {
        assert_eq!(
            client.get(&path).await.expect_error(StatusCode::NOT_FOUND),
            "TaskGroup not found",
            "{path}"
        );
    }
    let run = format!("trun_{}", "0".repeat(32));
    for path in [
        format!("/v1/tasks/runs/{run}"),
        format!("/v1/tasks/runs/{run}/input"),
        format!("/v1/tasks/runs/{run}/events"),
        format!("/v1beta/tasks/runs/{run}"),
    ] {
        assert_eq!(
            client.get(&path).await.expect_error(StatusCode::NOT_FOUND),
            "Run id not found",
            "{path}"
        );
    }
    assert_eq!(
        client
            .get(&format!("/v1/tasks/runs/{run}/result"))
            .await
            .expect_error(StatusCode::NOT_FOUND),
        "Run id not found"
    );
    let message = client
        .get("/v2/tasks/groups")
        .await
        .expect_error(StatusCode::NOT_FOUND);
    assert!(message.contains("/v2/tasks/groups"), "{message}");
    let message = client
        .get("/v1/tasks/groups")
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED);
    assert!(message.contains("POST"), "{message}");
    emu.shutdown().await;
}

#[tokio::test]
async fn add_runs_returns_ids_in_order_status_and_cursors() {
    let (emu, client) = start(Emulator::builder().time_scale(1.0).seed(3)).await;
    let group = create_group(&client).await;
    let first = add_runs(&client, &group, inputs(0, 3, "ultra8x")).await;
    assert_eq!(first["run_cursor"], json!(null));
    assert_eq!(first["event_cursor"], json!(null));
    assert_eq!(first["status"]["num_task_runs"], 3);
    assert_eq!(
        first["status"]["task_run_status_counts"],
        json!({"queued": 3})
    );
    assert_eq!(first["status"]["is_active"], true);
    let ids: Vec<String> = first["run_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for (i, id) in ids.iter().enumerate() {
        assert!(id.starts_with("trun_") && id.len() == 37);
        let run = client
            .get(&format!("/v1/tasks/groups/{group}/runs/{id}"))
            .await;
        assert_eq!(run.status, StatusCode::OK);
        // Input order: the run's metadata is the input's row.
        assert_eq!(run.json()["metadata"], json!({"row": i}));
        assert_eq!(run.json()["taskgroup_id"], json!(group));
    }
    let second = add_runs(&client, &group, inputs(3, 2, "ultra8x")).await;
    assert_eq!(second["run_cursor"], json!("3"));
    assert!(second["event_cursor"].is_string(), "{second}");
    assert_eq!(second["status"]["num_task_runs"], 5);
    // refresh_status is accepted either way; a non-boolean is rejected.
    let reply = client
        .post(
            &format!("/v1/tasks/groups/{group}/runs?refresh_status=false"),
            json!({"inputs": inputs(5, 1, "lite")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = client
        .post(
            &format!("/v1/tasks/groups/{group}/runs?refresh_status=maybe"),
            json!({"inputs": []}),
        )
        .await;
    assert!(
        reply
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY)
            .contains("refresh_status")
    );
    assert_eq!(emu.run_count(), 6);
    emu.shutdown().await;
}

#[tokio::test]
async fn validation_errors_say_what_and_where() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    let path = format!("/v1/tasks/groups/{group}/runs");

    let too_many = json!({"inputs": vec![json!({"input": "x", "processor": "lite"}); 1001]});
    let message = client
        .post(&path, too_many)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message.contains("inputs") && message.contains("1000") && message.contains("1001"),
        "{message}"
    );

    let malformed = client
        .try_call(Method::POST, &path, Some(b"{\"inputs\": [".to_vec()))
        .await
        .unwrap();
    let message = malformed.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("not valid JSON"), "{message}");

    let mut list = inputs(0, 5, "lite");
    list[3]["processor"] = json!(7);
    let message = client
        .post(&path, json!({"inputs": list}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("inputs[3].processor"), "{message}");

    let mut list = inputs(0, 2, "lite");
    list[1]["processor"] = json!("hyperdrive");
    let message = client
        .post(&path, json!({"inputs": list}))
        .await
        .expect_error(StatusCode::FORBIDDEN);
    assert!(
        message.contains("inputs[1].processor") && message.contains("hyperdrive"),
        "{message}"
    );

    let bad_schema = json!({"inputs": inputs(0, 1, "lite"), "default_task_spec": {"output_schema": {"type": "json",
        "json_schema": {"type": "object", "properties": {"when": {"type": "datetime"}}}}}});
    let message = client
        .post(&path, bad_schema)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message.contains("default_task_spec.output_schema.json_schema.properties.when.type"),
        "{message}"
    );

    let long = json!({"inputs": [{"input": "y".repeat(25_001), "processor": "lite"}]});
    let message = client
        .post(&path, long)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message.contains("inputs[0]") && message.contains("25000"),
        "{message}"
    );

    let message = client
        .post(&path, json!({"runs": []}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("inputs: is required"), "{message}");
    let message = client
        .post(&path, json!([1]))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("JSON object"), "{message}");

    let message = client
        .post(
            "/v1/tasks/groups",
            json!({"metadata": {"a_key_longer_than_16": "x"}}),
        )
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message.contains("metadata.a_key_longer_than_16"),
        "{message}"
    );

    // Nothing was created by the rejected requests.
    assert_eq!(emu.run_count(), 0);
    let status = client
        .get(&format!("/v1/tasks/groups/{group}"))
        .await
        .json();
    assert_eq!(status["status"]["num_task_runs"], 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0).max_body_bytes(1024)).await;
    let group = create_group(&client).await;
    let reply = client
        .post(
            &format!("/v1/tasks/groups/{group}/runs"),
            json!({"inputs": inputs(0, 30, "lite")}),
        )
        .await;
    let message = reply.expect_error(StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("1024"), "{message}");
    assert_eq!(emu.run_count(), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_configured_key_is_required_everywhere() {
    let (emu, anonymous) = start(Emulator::builder().time_scale(0.0).api_key("s3cret")).await;
    let wrong = anonymous.clone().with_key("s3cres");
    let right = anonymous.clone().with_key("s3cret");
    for client in [&anonymous, &wrong] {
        let message = client
            .post("/v1/tasks/groups", json!({}))
            .await
            .expect_error(StatusCode::UNAUTHORIZED);
        assert!(message.starts_with("Unauthorized"), "{message}");
        let run = format!("/v1/tasks/runs/trun_{}", "1".repeat(32));
        client
            .get(&run)
            .await
            .expect_error(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        right.post("/v1/tasks/groups", json!({})).await.status,
        StatusCode::OK
    );
    let stats = emu.stats();
    assert_eq!(stats.unauthorized, 4);
    assert_eq!(stats.groups_created, 1);
    // The key never shows up in debug output.
    assert!(!format!("{emu:?}").contains("s3cret"));
    emu.shutdown().await;

    // Without a configured key, any key or none is accepted.
    let (emu, client) = instant().await;
    assert_eq!(
        client
            .clone()
            .with_key("anything")
            .post("/v1/tasks/groups", json!({}))
            .await
            .status,
        StatusCode::OK
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn counts_stay_consistent_under_concurrent_adds_and_readers() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0002).seed(11)).await;
    let group = create_group(&client).await;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let client = client.clone();
            let group = group.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for batch in 0..5 {
                    let reply = add_runs(
                        &client,
                        &group,
                        inputs(w * 100 + batch * 10, 10, "lite-fast"),
                    )
                    .await;
                    ids.extend(
                        reply["run_ids"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap().to_owned()),
                    );
                }
                ids
            })
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            let group = group.clone();
            tokio::spawn(async move {
                let mut seen = 0;
                let mut last_total = 0;
                for _ in 0..40 {
                    let status: parallel_types::TaskGroup = serde_json::from_slice(
                        &client.get(&format!("/v1/tasks/groups/{group}")).await.body,
                    )
                    .unwrap();
                    let sum: u64 = status.status.task_run_status_counts.values().sum();
                    assert_eq!(
                        sum, status.status.num_task_runs,
                        "counts add up to the total"
                    );
                    assert!(
                        status.status.num_task_runs >= last_total,
                        "the total never shrinks"
                    );
                    last_total = status.status.num_task_runs;
                    let active = status
                        .status
                        .task_run_status_counts
                        .iter()
                        .any(|(s, n)| s.is_active() && *n > 0);
                    assert_eq!(
                        active, status.status.is_active,
                        "is_active matches the counts"
                    );
                    seen += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in writers {
        all.extend(w.await.unwrap());
    }
    for r in readers {
        assert_eq!(r.await.unwrap(), 40);
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 400, "every run id is unique");
    // The events stream ends once everything is done, and its last status counts all 400.
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/events"))
        .await;
    let (frames, _, _) = crate::http::split_frames(&streamed.body);
    let last = frames.last().unwrap();
    assert_eq!(last.data["status"]["num_task_runs"], 400);
    assert_eq!(last.data["status"]["is_active"], false);
    let runs = client
        .stream(&format!("/v1/tasks/groups/{group}/runs"))
        .await;
    let (frames, _, _) = crate::http::split_frames(&runs.body);
    let mut streamed_ids: Vec<String> = frames
        .iter()
        .map(|f| f.data["run"]["run_id"].as_str().unwrap().to_owned())
        .collect();
    streamed_ids.sort();
    assert_eq!(streamed_ids, all);
    emu.shutdown().await;
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served() {
    use http_body_util::{BodyExt as _, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let (emu, _) = instant().await;
    let stream = tokio::net::TcpStream::connect(emu.local_addr())
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::builder()
        .method(Method::POST)
        .uri(format!("{}/v1/tasks/groups", emu.base_url()))
        .body(Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let group: parallel_types::TaskGroup = serde_json::from_slice(&body).unwrap();
    assert!(group.taskgroup_id.starts_with("tgrp_"));
    emu.shutdown().await;
}

#[tokio::test]
async fn ids_never_repeat_across_emulators_with_the_same_seed() {
    // A group id kept from an earlier emulator (a batch state file, say) must not name a
    // group of a new one.
    let mut groups = std::collections::HashSet::new();
    let mut runs = std::collections::HashSet::new();
    for _ in 0..3 {
        let (emu, client) = instant().await;
        let group = create_group(&client).await;
        let added = add_runs(&client, &group, inputs(0, 5, "lite")).await;
        for id in added["run_ids"].as_array().unwrap() {
            assert!(
                runs.insert(id.as_str().unwrap().to_owned()),
                "run id {id} repeated"
            );
        }
        assert!(groups.insert(group.clone()), "group id {group} repeated");
        emu.shutdown().await;
    }
}
