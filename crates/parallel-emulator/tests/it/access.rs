//! Who the emulator answers: an API key that is never empty, and, without a key, only
//! requests addressed to a loopback name (against DNS rebinding).

use parallel_emulator::Emulator;

#[tokio::test]
async fn an_empty_api_key_is_refused_at_start() {
    let error = Emulator::builder()
        .api_key(Some(""))
        .start()
        .await
        .expect_err("an empty key would accept any request");
    assert!(error.is_config(), "{error}");
    assert!(error.to_string().contains("API key is empty"), "{error}");
}
