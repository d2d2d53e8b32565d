//! `auth-timing`: how long the 401 takes for an unknown token and for another tenant's valid token.
//!
//! Strategy: one connection, the two kinds of request interleaved (unknown, other tenant's, unknown,
//! ...) so drift in machine load hits both samples alike; every answer must be a 401. The results give
//! each sample's mean, median and standard deviation in microseconds and Welch's t for the difference
//! of the means (|t| of about 2 or less is within noise). This is a measurement, so it lives here and
//! not in a test; `scim-api`'s isolation tests check that the two answers are identical byte for byte.
//! What the numbers mean is discussed in docs/security.md.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Ctx, Phase, ScenarioOutput, carry_on, clock_seed};
use crate::cli::AuthTimingArgs;
use crate::client::ScimClient;
use crate::rng::Rng;

const UNKNOWN: &str = "auth.unknown";
const OTHER_TENANT: &str = "auth.other-tenant";
/// The characters of a Secret Token after its `scim_` prefix (base64url).
const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Runs the scenario; `other_tenant` carries `--token`, a valid token of a tenant other than the one
/// `--base-url` names.
pub async fn run(
    ctx: &Ctx,
    other_tenant: &ScimClient,
    args: &AuthTimingArgs,
) -> anyhow::Result<ScenarioOutput> {
    let planned = 2 * args.rounds as u64;
    ctx.warn_if_over_budget(planned);
    let phase = Phase::start(ctx, "auth", Some(planned), None)?;
    let other_tenant = phase.client(other_tenant);
    // Seeded per run, so the unknown tokens of two runs never meet in the server's cache.
    let mut rng = Rng::new(clock_seed());
    let repeated = other_tenant.with_token(&unknown_token(&mut rng));
    let (mut unknown_us, mut other_us) = (Vec::new(), Vec::new());
    let mut stop = None;
    for round in 0..2 * args.rounds {
        let (label, client, samples) = if round % 2 == 0 {
            let client = if args.fresh_unknown {
                other_tenant.with_token(&unknown_token(&mut rng))
            } else {
                repeated.clone()
            };
            (UNKNOWN, client, &mut unknown_us)
        } else {
            (OTHER_TENANT, other_tenant.clone(), &mut other_us)
        };
        match carry_on(client.list_users_refused(label).await) {
            Ok(Some(latency)) => samples.push(micros(latency)),
            Ok(None) => {}
            Err(reason) => {
                stop = Some(reason);
                break;
            }
        }
    }
    let report = phase.finish()?;
    let (unknown, other) = (Sample::of(&unknown_us), Sample::of(&other_us));
    let extra = json!({
        "freshUnknown": args.fresh_unknown,
        "unknownToken": unknown.to_json(),
        "otherTenantToken": other.to_json(),
        "welchT": welch_t(&unknown, &other),
    });
    Ok((vec![report], extra, stop))
}

/// A token of the right shape that no server has issued.
fn unknown_token(rng: &mut Rng) -> String {
    let mut token = String::from("scim_");
    for _ in 0..43 {
        let index = rng.below(TOKEN_ALPHABET.len());
        token.push(char::from(TOKEN_ALPHABET.get(index).copied().unwrap_or(b'A')));
    }
    token
}

fn micros(latency: Duration) -> f64 {
    latency.as_secs_f64() * 1e6
}

/// Summary statistics of one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    n: usize,
    mean: f64,
    /// Unbiased (n - 1) variance.
    variance: f64,
    median: f64,
}

impl Sample {
    fn of(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n.max(1) as f64;
        let variance =
            values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.saturating_sub(1).max(1) as f64;
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(n / 2).copied().unwrap_or(0.0);
        Self {
            n,
            mean,
            variance,
            median,
        }
    }

    fn to_json(self) -> Value {
        json!({
            "requests": self.n,
            "meanUs": self.mean,
            "medianUs": self.median,
            "sdUs": self.variance.sqrt(),
        })
    }
}

/// Welch's t statistic for the difference of two means; 0 when either sample is too small.
fn welch_t(a: &Sample, b: &Sample) -> f64 {
    if a.n < 2 || b.n < 2 {
        return 0.0;
    }
    (a.mean - b.mean) / (a.variance / a.n as f64 + b.variance / b.n as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_statistics_and_welch_t() {
        let a = Sample::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((a.n, a.mean, a.median), (4, 2.5, 3.0));
        assert!((a.variance - 5.0 / 3.0).abs() < 1e-12);
        let b = Sample::of(&[2.0, 3.0, 4.0, 5.0]);
        // Equal variances and sizes: t = (2.5 - 3.5) / sqrt(2 * (5/3) / 4).
        assert!((welch_t(&a, &b) + 1.0 / (5.0f64 / 6.0).sqrt()).abs() < 1e-12);
        assert_eq!(welch_t(&a, &Sample::of(&[1.0])), 0.0);
        assert_eq!(Sample::of(&[]).n, 0);
    }

    #[test]
    fn unknown_tokens_have_the_secret_token_shape_and_differ() {
        let mut rng = Rng::new(1);
        let (a, b) = (unknown_token(&mut rng), unknown_token(&mut rng));
        assert_eq!(a.len(), 48);
        assert!(a.starts_with("scim_") && a.bytes().skip(5).all(|c| TOKEN_ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }
}
