//! A request about to be sent: its per-call options are set, then it is awaited.

use std::fmt;
use std::future::IntoFuture;

use futures::future::BoxFuture;

use crate::error::Error;
use crate::options::{RequestOptions, request_option_setters};

/// A request of a [`Client`](crate::Client) or a [`GroupHandle`](crate::GroupHandle), sent
/// when awaited: `client.get_run(id).await`. Before that, per-call options can be set on it,
/// the official SDKs' `extra_headers`, `extra_query`, `extra_body`, `timeout` and `betas`:
///
/// ```
/// use std::time::Duration;
/// use parallel_client::Beta;
/// use parallel_types::RunInput;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = parallel_emulator::Emulator::builder().time_scale(0.0).start().await?;
/// # let client = parallel_client::Client::builder().api_key("key").base_url(emulator.base_url()).build()?;
/// let run = client
///     .create_run(RunInput::new("Who founded Acme?", "lite-fast"))
///     .header("x-trace-id", "4bf92f35")
///     .body_field("memory_scope_key", "acme") // a field newer than this client
///     .betas([Beta::FieldBasis])
///     .timeout(Duration::from_secs(30))
///     .await?;
/// # let _ = run; emulator.shutdown().await;
/// # Ok(()) }
/// ```
///
/// A request does nothing until it is awaited (or turned into a future with
/// [`IntoFuture::into_future`], to spawn it).
#[must_use = "a request does nothing until it is awaited"]
pub struct PendingRequest<'a, T> {
    options: RequestOptions,
    send: Box<dyn FnOnce(RequestOptions) -> BoxFuture<'a, Result<T, Error>> + Send + 'a>,
}

impl<'a, T> PendingRequest<'a, T> {
    /// A request that `send` makes with the options set on it.
    pub(crate) fn new(
        send: impl FnOnce(RequestOptions) -> BoxFuture<'a, Result<T, Error>> + Send + 'a,
    ) -> Self {
        Self {
            options: RequestOptions::default(),
            send: Box::new(send),
        }
    }

    request_option_setters!(options);

    /// Replaces this request's per-call options with `options`, prepared once for several
    /// calls.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a, T> IntoFuture for PendingRequest<'a, T> {
    type Output = Result<T, Error>;
    type IntoFuture = BoxFuture<'a, Result<T, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        (self.send)(self.options)
    }
}

impl<T> fmt::Debug for PendingRequest<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRequest")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
