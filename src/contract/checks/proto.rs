//! Reflection: REFL-1, PROTO-1, PROTO-2.

use std::collections::BTreeSet;

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
use tonic_reflection::pb::{v1, v1alpha};

use super::{Verdict, fail, show, within};
use crate::contract::context::{Ctx, Svc};
use crate::contract::property::Deviation;

const SERVICES: [&str; 2] = ["orders.v1.OrderService", "grpc.health.v1.Health"];

/// ListServices through one version of the reflection protocol (v1 and
/// v1alpha have the same shape in different packages).
macro_rules! list_services {
    ($name:ident, $v:ident) => {
        pub(crate) async fn $name(ctx: &Ctx, svc: Svc) -> Result<Vec<String>, String> {
            use $v::server_reflection_request::MessageRequest;
            use $v::server_reflection_response::MessageResponse;
            let mut c = $v::server_reflection_client::ServerReflectionClient::new(svc);
            let req = $v::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let mut out = c
                .server_reflection_info(tokio_stream::iter([req]))
                .await
                .map_err(|st| show(&st))?
                .into_inner();
            match within(ctx.patience, out.message()).await {
                Some(Ok(Some($v::ServerReflectionResponse {
                    message_response: Some(MessageResponse::ListServicesResponse(l)),
                    ..
                }))) => Ok(l.service.into_iter().map(|s| s.name).collect()),
                other => Err(format!("{other:?}")),
            }
        }
    };
}

list_services!(list_v1, v1);
list_services!(list_v1alpha, v1alpha);

/// REFL-1: every reflection version the target serves lists both
/// services, and it serves at least one (grpcurl 1.8 speaks v1alpha, newer
/// clients v1; grpc-python serves v1alpha only).
pub(crate) async fn refl1(ctx: &Ctx) -> Verdict {
    if !ctx.reflection {
        return Verdict::Skip("reflection is off for this target".into());
    }
    let mut served = vec![];
    for (version, listed) in [
        ("v1", list_v1(ctx, ctx.raw()).await),
        ("v1alpha", list_v1alpha(ctx, ctx.raw()).await),
    ] {
        let names = match listed {
            Ok(n) => n,
            Err(e) if e.starts_with("Unimplemented") => continue,
            Err(e) => {
                return fail(
                    ctx,
                    format!("reflection {version} ListServices"),
                    Deviation::new("REFL-1", "a service list", e),
                );
            }
        };
        if let Some(missing) = SERVICES.iter().find(|s| !names.iter().any(|n| n == *s)) {
            return fail(
                ctx,
                format!("reflection {version} ListServices"),
                Deviation::new("REFL-1", format!("{missing} listed"), format!("{names:?}")),
            );
        }
        // Listed must mean resolvable: each service's file by its symbol.
        for symbol in SERVICES {
            let files = match version {
                "v1" => file_v1(ctx, symbol).await,
                _ => file_v1alpha(ctx, symbol).await,
            };
            let ok = files.as_ref().is_ok_and(|f| defines(f, symbol));
            if !ok {
                let got = match files {
                    Ok(f) => format!("files {:?}", f.iter().map(|f| f.name()).collect::<Vec<_>>()),
                    Err(st) => show(&st),
                };
                return fail(
                    ctx,
                    format!("reflection {version} FileContainingSymbol({symbol})"),
                    Deviation::new("REFL-1", format!("the file that defines {symbol}"), got),
                );
            }
        }
        served.push(version);
    }
    if served.is_empty() {
        return fail(
            ctx,
            "reflection v1 and v1alpha ListServices",
            Deviation::new(
                "REFL-1",
                "reflection v1 or v1alpha served",
                "UNIMPLEMENTED for both",
            ),
        );
    }
    Verdict::Pass(Some(format!("served: {}", served.join(", "))))
}

/// FileContainingSymbol through one version of the reflection protocol:
/// the files of the answer.
macro_rules! file_containing {
    ($name:ident, $v:ident) => {
        async fn $name(ctx: &Ctx, symbol: &str) -> Result<Vec<FileDescriptorProto>, tonic::Status> {
            use $v::server_reflection_request::MessageRequest;
            use $v::server_reflection_response::MessageResponse;
            let mut c = $v::server_reflection_client::ServerReflectionClient::new(ctx.raw());
            let req = $v::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
            };
            let mut out = c
                .server_reflection_info(tokio_stream::iter([req]))
                .await?
                .into_inner();
            match within(ctx.patience, out.message()).await {
                Some(Ok(Some($v::ServerReflectionResponse {
                    message_response: Some(MessageResponse::FileDescriptorResponse(f)),
                    ..
                }))) => Ok(f
                    .file_descriptor_proto
                    .iter()
                    .filter_map(|b| FileDescriptorProto::decode(b.as_slice()).ok())
                    .collect()),
                Some(Ok(Some(other))) => Err(tonic::Status::unknown(format!(
                    "{:?}",
                    other.message_response
                ))),
                Some(Err(st)) => Err(st),
                other => Err(tonic::Status::unknown(format!("{other:?}"))),
            }
        }
    };
}

file_containing!(file_v1alpha, v1alpha);
file_containing!(file_v1, v1);

/// Whether `files` define the service `symbol` (`package.Service`).
fn defines(files: &[FileDescriptorProto], symbol: &str) -> bool {
    files.iter().any(|f| {
        f.service
            .iter()
            .any(|s| format!("{}.{}", f.package(), s.name()) == symbol)
    })
}

/// The served orders.v1 file, through v1alpha or, when the server does not
/// serve that version, v1.
async fn served_file(ctx: &Ctx) -> Result<FileDescriptorProto, String> {
    let files = match file_v1alpha(ctx, SERVICES[0]).await {
        Err(st) if st.code() == tonic::Code::Unimplemented => file_v1(ctx, SERVICES[0]).await,
        other => other,
    }
    .map_err(|st| show(&st))?;
    files
        .into_iter()
        .find(|f| f.package() == "orders.v1")
        .ok_or_else(|| "no orders.v1 file in the answer".to_string())
}

fn contract_file() -> Option<FileDescriptorProto> {
    FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET)
        .ok()?
        .file
        .into_iter()
        .find(|f| f.package() == "orders.v1")
}

/// The fully qualified names of the messages and enums `f` defines.
fn defined_types(f: &FileDescriptorProto) -> BTreeSet<String> {
    fn nested(scope: &str, m: &DescriptorProto, out: &mut BTreeSet<String>) {
        let name = format!("{scope}.{}", m.name());
        for e in &m.enum_type {
            out.insert(format!("{name}.{}", e.name()));
        }
        for n in &m.nested_type {
            nested(&name, n, out);
        }
        out.insert(name);
    }
    let mut out = BTreeSet::new();
    let package = format!(".{}", f.package());
    for m in &f.message_type {
        nested(&package, m, &mut out);
    }
    for e in &f.enum_type {
        out.insert(format!("{package}.{}", e.name()));
    }
    out
}

/// A type name as written in a descriptor, fully qualified. descriptor.proto
/// allows relative names, resolved by C++-like scoping from the innermost
/// scope out (protobufjs, behind grpc-js's reflection, writes `LineItem`
/// where protoc writes `.orders.v1.LineItem`); a name the file does not
/// define is taken from the root.
fn qualify(known: &BTreeSet<String>, scope: &str, name: &str) -> String {
    if name.is_empty() || name.starts_with('.') {
        return name.to_string();
    }
    let mut scope = scope.to_string();
    loop {
        let candidate = format!("{scope}.{name}");
        if known.contains(&candidate) {
            return candidate;
        }
        match scope.rfind('.') {
            Some(at) => scope.truncate(at),
            None => return format!(".{name}"),
        }
    }
}

/// Everything PROTO-1 compares, one line per element, type names fully
/// qualified.
fn signature(f: &FileDescriptorProto) -> BTreeSet<String> {
    let known = defined_types(f);
    let package = format!(".{}", f.package());
    let mut out = BTreeSet::new();
    for m in &f.message_type {
        let scope = format!("{package}.{}", m.name());
        out.insert(format!("message {}", m.name()));
        for x in &m.field {
            out.insert(format!(
                "field {}.{} = {} {:?} {:?} {}",
                m.name(),
                x.name(),
                x.number(),
                x.label(),
                x.r#type(),
                qualify(&known, &scope, x.type_name())
            ));
        }
    }
    for e in &f.enum_type {
        for v in &e.value {
            out.insert(format!("enum {}.{} = {}", e.name(), v.name(), v.number()));
        }
    }
    for s in &f.service {
        for m in &s.method {
            out.insert(format!(
                "rpc {}.{}({}{}) returns ({}{})",
                s.name(),
                m.name(),
                if m.client_streaming() { "stream " } else { "" },
                qualify(&known, &package, m.input_type()),
                if m.server_streaming() { "stream " } else { "" },
                qualify(&known, &package, m.output_type())
            ));
        }
    }
    out
}

pub(crate) async fn proto1(ctx: &Ctx) -> Verdict {
    if !ctx.reflection {
        return Verdict::Skip("reflection is off for this target".into());
    }
    let served = match served_file(ctx).await {
        Ok(f) => f,
        Err(e) => {
            return fail(
                ctx,
                "reflection FileContainingSymbol orders.v1.OrderService",
                Deviation::new("PROTO-1", "the orders.v1 file", e),
            );
        }
    };
    let Some(contract) = contract_file() else {
        return Verdict::Skip("the embedded contract could not be read".into());
    };
    let (want, got) = (signature(&contract), signature(&served));
    if let Some(missing) = want.difference(&got).next() {
        return fail(
            ctx,
            "the served orders.v1 descriptors",
            Deviation::new("PROTO-1", missing.clone(), "missing or different"),
        );
    }
    if let Some(extra) = got.difference(&want).next() {
        return fail(
            ctx,
            "the served orders.v1 descriptors",
            Deviation::new("PROTO-1", "nothing beyond the contract", extra.clone()),
        );
    }
    Verdict::Pass(None)
}

pub(crate) async fn proto2(ctx: &Ctx) -> Verdict {
    if !ctx.reflection {
        return Verdict::Skip("reflection is off for this target".into());
    }
    let f = match served_file(ctx).await {
        Ok(f) => f,
        Err(e) => {
            return fail(
                ctx,
                "reflection FileContainingSymbol orders.v1.OrderService",
                Deviation::new("PROTO-2", "the orders.v1 file", e),
            );
        }
    };
    let locations = f
        .source_code_info
        .as_ref()
        .map(|i| i.location.clone())
        .unwrap_or_default();
    if !locations
        .iter()
        .any(|l| !l.leading_comments().trim().is_empty())
    {
        // protoc's Go, Java and Python plugins drop source info from the
        // descriptors they embed: there is nothing to judge.
        return Verdict::Skip(
            "the served descriptors carry no source info (as protoc's Go, Java and Python \
             plugins embed them): doc comments cannot be seen"
                .into(),
        );
    }
    let documented = |path: Vec<i32>| {
        locations
            .iter()
            .any(|l| l.path == path && !l.leading_comments().trim().is_empty())
    };
    let mut missing = vec![];
    for (i, m) in f.message_type.iter().enumerate() {
        if !documented(vec![4, i as i32]) {
            missing.push(m.name().to_string());
        }
        for (j, x) in m.field.iter().enumerate() {
            if !documented(vec![4, i as i32, 2, j as i32]) {
                missing.push(format!("{}.{}", m.name(), x.name()));
            }
        }
    }
    for (i, e) in f.enum_type.iter().enumerate() {
        if !documented(vec![5, i as i32]) {
            missing.push(e.name().to_string());
        }
        for (j, v) in e.value.iter().enumerate() {
            if !documented(vec![5, i as i32, 2, j as i32]) {
                missing.push(v.name().to_string());
            }
        }
    }
    for (i, s) in f.service.iter().enumerate() {
        if !documented(vec![6, i as i32]) {
            missing.push(s.name().to_string());
        }
        for (j, m) in s.method.iter().enumerate() {
            if !documented(vec![6, i as i32, 2, j as i32]) {
                missing.push(format!("{}.{}", s.name(), m.name()));
            }
        }
    }
    if missing.is_empty() {
        Verdict::Pass(None)
    } else {
        fail(
            ctx,
            "the served orders.v1 source info",
            Deviation::new(
                "PROTO-2",
                "a doc comment on every element",
                format!("none on {missing:?}"),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto1_reads_relative_type_names_as_protobufjs_writes_them() {
        let mut relative = contract_file().expect("the embedded contract");
        for m in &mut relative.message_type {
            for f in &mut m.field {
                if let Some(name) = f.type_name.as_mut() {
                    // `.orders.v1.LineItem` → `LineItem`, `v1.LineItem`…
                    if let Some(rest) = name.strip_prefix(".orders.v1.") {
                        *name = rest.to_string();
                    } else if let Some(rest) = name.strip_prefix('.') {
                        *name = rest.to_string();
                    }
                }
            }
        }
        for s in &mut relative.service {
            for m in &mut s.method {
                m.input_type = m.input_type.as_ref().map(|t| t.replace(".orders.", ""));
            }
        }
        let contract = contract_file().unwrap();
        assert_ne!(relative, contract, "the names were rewritten");
        assert_eq!(signature(&relative), signature(&contract));
        // A relative name that resolves to another type still differs.
        relative.message_type[0].field[1].type_name = Some("Address".into());
        assert_ne!(signature(&relative), signature(&contract));
    }
}
