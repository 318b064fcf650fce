//! Security settings checked at load, for every client a flow will open (source and target, consumer,
//! producer and admin, after MM2's layering): the same parser the clients use reads each layer, loads its
//! truststore and keystore files with their passwords, and checks the SASL credentials. A problem is
//! reported once, at the line of the key that causes it, so `validate --offline` and `run` both refuse a
//! config that could not connect.

use std::collections::{BTreeMap, BTreeSet};

use kmirror_kafka::ConfigError as ClientError;

use super::{Buckets, Ctx, Layer, Roles, Setting, plain};
use crate::config::error::{Problem, WarningKind};
use crate::config::model::{FlowConfig, Role, Side};

/// Checks every (flow, side, role) client of the active flows.
pub(super) fn check(
    flows: &[FlowConfig],
    buckets: &Buckets,
    clusters: &BTreeMap<String, Roles>,
    ctx: &mut Ctx,
) {
    let mut seen: BTreeSet<BTreeMap<String, String>> = BTreeSet::new();
    for flow in flows {
        let pair = buckets
            .pairs
            .get(&(flow.source.clone(), flow.target.clone()));
        for side in [Side::Source, Side::Target] {
            let alias = match side {
                Side::Source => &flow.source,
                Side::Target => &flow.target,
            };
            for role in Role::ALL {
                // The same layering as `Config::client_properties`.
                let mut layer: Layer = clusters
                    .get(alias)
                    .map(|r| r.get(role).clone())
                    .unwrap_or_default();
                if let Some(p) = pair {
                    layer.extend(p.both.get(role).clone());
                }
                layer.extend(buckets.top.side(side).get(role).clone());
                if let Some(p) = pair {
                    layer.extend(p.side(side).get(role).clone());
                }
                let props = plain(&layer);
                if seen.insert(props.clone()) {
                    check_layer(alias, &layer, &props, ctx);
                }
            }
        }
    }
}

fn is_security_key(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("ssl.") || key.starts_with("sasl.")
}

fn check_layer(alias: &str, layer: &Layer, props: &BTreeMap<String, String>, ctx: &mut Ctx) {
    // A placeholder left unresolved (an unknown provider) was already warned about; its value is not
    // the real one, so checking it would report a problem that is not there.
    if props
        .iter()
        .any(|(k, v)| is_security_key(k) && v.contains("${"))
    {
        return;
    }
    let protocol = props
        .get("security.protocol")
        .map(|p| p.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "PLAINTEXT".to_owned());
    let tls = protocol == "SSL" || protocol == "SASL_SSL";
    let sasl = protocol.starts_with("SASL_");
    warn_unused(layer, tls, sasl, &protocol, ctx);
    if tls
        && let Some(s) = layer.get("ssl.endpoint.identification.algorithm")
        && s.text().is_empty()
    {
        ctx.warn(
            s,
            WarningKind::Note,
            "broker host names are not checked against their certificates (the chain still is); set \
             `https` once the broker certificates name their hosts",
        );
    }
    for e in kmirror_kafka::ClientConfig::check_properties(props) {
        report(alias, layer, &e, ctx);
    }
}

/// SSL or SASL settings that the protocol does not use are a common slip (a missing `security.protocol`).
fn warn_unused(layer: &Layer, tls: bool, sasl: bool, protocol: &str, ctx: &mut Ctx) {
    let unused: Vec<&Setting> = layer
        .iter()
        .filter(|(k, _)| {
            (!sasl && (k.as_str() == "sasl.jaas.config" || k.as_str() == "sasl.mechanism"))
                || (!tls
                    && matches!(
                        k.as_str(),
                        "ssl.truststore.location" | "ssl.keystore.location"
                    ))
        })
        .map(|(_, s)| s)
        .collect();
    for s in unused {
        ctx.warn(
            s,
            WarningKind::Note,
            format!(
                "not used with security.protocol={protocol}; if the cluster needs it, set security.protocol \
                 (SSL, SASL_SSL or SASL_PLAINTEXT)"
            ),
        );
    }
}

/// One client-config problem as a config problem at the line of its key (or of `security.protocol` for a
/// missing key).
fn report(alias: &str, layer: &Layer, e: &ClientError, ctx: &mut Ctx) {
    let (message, fix) = match e {
        ClientError::Invalid { reason, .. } => (reason.clone(), String::new()),
        ClientError::Missing { reason, .. } => (format!("missing: {reason}"), String::new()),
        ClientError::Unsupported { value, remedy, .. } => {
            (format!("`{value}` is not supported"), remedy.clone())
        }
        ClientError::File {
            what,
            path,
            message,
            ..
        } => (
            format!("cannot use {what} {}: {message}", path.display()),
            String::new(),
        ),
    };
    let key = e.key();
    if key == "bootstrap.servers" || key == "security.protocol" {
        return; // reported by the cluster checks already
    }
    match layer.get(key) {
        Some(s) => ctx.problem(s, message, fix),
        None => {
            let line = layer.get("security.protocol").and_then(|s| s.line);
            ctx.problems.push(Problem {
                file: ctx.file.clone(),
                line,
                key: format!("{alias}.{key}"),
                message: format!("cluster `{alias}`: {message}"),
                fix,
            });
        }
    }
}
