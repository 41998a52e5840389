//! Steady load through the balancer: clients that each create a verification flow and send a
//! code, one after another, counting the answers and the codes that went out.

use std::time::{Duration, Instant};

/// What a load run saw: answers by status, and the codes sent (per recipient).
#[derive(Debug, Default)]
pub struct Tally {
    pub statuses: std::collections::BTreeMap<u16, usize>,
    pub sent: usize,
    pub per_recipient: std::collections::HashMap<String, usize>,
    pub elapsed: Duration,
}

/// `workers` clients that each create a verification flow and send a code through the
/// balancer, one after another, until stopped.
pub struct Load {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
    started: Instant,
}

impl Load {
    pub fn start(base: String, users: usize, workers: usize) -> Load {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = (0..workers)
            .map(|w| {
                let (base, stopped) = (base.clone(), stopped.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::builder()
                        .timeout(Duration::from_secs(20))
                        .build()
                        .unwrap();
                    let mut tally = Tally::default();
                    let mut i = w;
                    while !*stopped.borrow() {
                        let to = format!("load{}@example.com", i % users);
                        i += workers;
                        let status = send_once(&http, &base, &to).await;
                        *tally.statuses.entry(status).or_default() += 1;
                        if status == 200 {
                            tally.sent += 1;
                            *tally.per_recipient.entry(to).or_default() += 1;
                        }
                    }
                    tally
                })
            })
            .collect();
        Load {
            stop,
            tasks,
            started: Instant::now(),
        }
    }

    pub async fn stop(self) -> Tally {
        let _ = self.stop.send(true);
        let mut all = Tally::default();
        for t in self.tasks {
            let t = t.await.unwrap();
            for (s, n) in t.statuses {
                *all.statuses.entry(s).or_default() += n;
            }
            all.sent += t.sent;
            for (to, n) in t.per_recipient {
                *all.per_recipient.entry(to).or_default() += n;
            }
        }
        all.elapsed = self.started.elapsed();
        all
    }
}

/// One flow and one send; the status of the first request that did not succeed, else 200
/// (a send counts only when its answer says the code went out).
async fn send_once(http: &reqwest::Client, base: &str, to: &str) -> u16 {
    let flow = match http
        .get(format!("{base}/self-service/verification/api"))
        .send()
        .await
    {
        Ok(r) if r.status() == 200 => r.json::<serde_json::Value>().await.unwrap_or_default(),
        Ok(r) => return r.status().as_u16(),
        Err(_) => return 0,
    };
    let Some(id) = flow["id"].as_str() else {
        return 0;
    };
    let sent = http
        .post(format!("{base}/self-service/verification?flow={id}"))
        .header("accept", "application/json")
        .json(&serde_json::json!({"method": "code", "email": to}))
        .send()
        .await;
    match sent {
        Ok(r) if r.status() == 200 => {
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            if body["state"] == "sent_email" {
                200
            } else {
                1
            }
        }
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}
