//! Webhook deliveries: a run that asked for one is watched until it finishes, then its
//! `task_run.status` event is signed and posted, with retries.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::App;
use crate::clock::Timestamp;
use crate::config::EmulatorBuilder;
use crate::state::Group;
use crate::stats::Counters;
use crate::webhook::{self, Secret, Signed, Target, WebhookDelivery};
use crate::wire;

/// Most deliveries kept for listing; older ones are forgotten first.
const MAX_LISTED: usize = 10_000;
/// The wait before the second attempt; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Webhook settings and the deliveries so far.
#[derive(Debug)]
pub(crate) struct Webhooks {
    pub(crate) secret: Secret,
    attempts: u32,
    timeout: Duration,
    deliveries: Mutex<Vec<WebhookDelivery>>,
}

impl Webhooks {
    /// `secret` is the account's: the one set, or a random one made at start.
    pub(crate) fn new(cfg: &EmulatorBuilder, secret: String) -> Webhooks {
        Webhooks {
            secret: Secret(secret),
            attempts: cfg.webhook_attempts,
            timeout: cfg.webhook_timeout,
            deliveries: Mutex::new(Vec::new()),
        }
    }

    /// The deliveries so far, oldest first.
    pub(crate) fn deliveries(&self) -> Vec<WebhookDelivery> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<WebhookDelivery>> {
        self.deliveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, delivery: &WebhookDelivery) {
        let mut list = self.lock();
        if let Some(slot) = list
            .iter_mut()
            .rev()
            .find(|d| d.webhook_id == delivery.webhook_id)
        {
            *slot = delivery.clone();
            return;
        }
        if list.len() >= MAX_LISTED {
            list.remove(0);
        }
        list.push(delivery.clone());
    }
}

impl App {
    /// Delivers a webhook for each of `hooks` (offsets among runs added at `first`) once its
    /// run finishes.
    pub(super) fn watch_webhooks(
        self: &Arc<Self>,
        group: &Arc<Group>,
        first: usize,
        hooks: Vec<(usize, Target)>,
    ) {
        for (offset, target) in hooks {
            let app = Arc::clone(self);
            let group = Arc::clone(group);
            tokio::spawn(async move {
                app.deliver_when_finished(&group, first + offset, target)
                    .await;
            });
        }
    }

    async fn deliver_when_finished(&self, group: &Group, index: usize, target: Target) {
        let mut shutdown = self.shutdown.clone();
        let run = loop {
            let notified = group.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let run = group.lock().runs[index].clone();
            if !run.status.is_active() {
                break run;
            }
            tokio::select! {
                () = &mut notified => {}
                _ = shutdown.wait_for(|down| *down) => return,
            }
        };
        let mut data = Vec::with_capacity(512);
        wire::write_run(&mut data, &run, group.id);
        let mut body = Vec::with_capacity(data.len() + 96);
        body.extend_from_slice(b"{\"timestamp\":");
        wire::push_str(&mut body, &Timestamp(self.clock.now()).to_string());
        body.extend_from_slice(b",\"type\":\"task_run.status\",\"data\":");
        body.extend_from_slice(&data);
        body.push(b'}');
        let mut delivery = WebhookDelivery {
            webhook_id: format!("whevent_{}", run.id),
            run_id: run.id.to_string(),
            url: target.url.clone(),
            run_status: run.status.as_str().to_owned(),
            attempts: 0,
            delivered: false,
            finished: false,
            last_status: None,
            last_error: None,
        };
        self.post_with_retries(&target, Bytes::from(body), &mut delivery, &mut shutdown)
            .await;
    }

    async fn post_with_retries(
        &self,
        target: &Target,
        body: Bytes,
        delivery: &mut WebhookDelivery,
        shutdown: &mut tokio::sync::watch::Receiver<bool>,
    ) {
        let secret = target.secret.as_ref().unwrap_or(&self.webhooks.secret);
        let mut backoff = FIRST_BACKOFF;
        loop {
            let timestamp = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let signed = Signed {
                id: &delivery.webhook_id,
                timestamp,
                signature: webhook::sign(secret, &delivery.webhook_id, timestamp, &body),
                body: body.clone(),
            };
            delivery.attempts += 1;
            Counters::bump(&self.counters.webhook_attempts, 1);
            let outcome = webhook::post(target, signed, self.webhooks.timeout).await;
            delivery.last_status = outcome.as_ref().ok().map(http::StatusCode::as_u16);
            delivery.last_error = match &outcome {
                Ok(status) if status.is_success() => None,
                Ok(status) => Some(format!("answered {status}")),
                Err(e) => Some(e.clone()),
            };
            delivery.delivered = delivery.last_error.is_none();
            delivery.finished = delivery.delivered || delivery.attempts >= self.webhooks.attempts;
            self.webhooks.record(delivery);
            if delivery.delivered {
                Counters::bump(&self.counters.webhooks_delivered, 1);
                return;
            }
            if delivery.finished {
                Counters::bump(&self.counters.webhooks_failed, 1);
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|down| *down) => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
