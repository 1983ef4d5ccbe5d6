//! The master's operator API v1 (`POST /api/v1`), in JSON and protobuf.
//!
//! A `mesos.v1.master.Call` is decoded by Content-Type and answered with a
//! `mesos.v1.master.Response` encoded by Accept, with the same 405 / 415 / 406 / 400 rules
//! as the scheduler endpoint. Calls that only change something answer an empty 200.
//!
//! - this module: the HTTP edge and the dispatch of each call type;
//! - [`views`]: the `GET_*` answers, built from the engine;
//! - [`admin`]: operator actions on agents and roles (mark gone, drain, deactivate,
//!   weights, quota) and the records they keep;
//! - [`stream`]: SUBSCRIBE, the snapshot followed by change events.
//!
//! ```text
//!  POST /api/v1 ─▶ decode + validate ─▶ GET_*: inspect(engine) ─▶ views ─▶ Response
//!                                    ├▶ actions: mutate(engine) ─▶ admin ─▶ 200
//!                                    └▶ SUBSCRIBE: inspect(state + change feed) ─▶ stream
//! ```
//!
//! Calls left out on purpose (answered 501): SET_LOGGING_LEVEL, dynamic reservations and
//! volumes (RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES, DESTROY_VOLUMES,
//! GROW_VOLUME, SHRINK_VOLUME) and the maintenance schedule (UPDATE_MAINTENANCE_SCHEDULE,
//! START_MAINTENANCE, STOP_MAINTENANCE): this master has none of those features, and
//! DRAIN_AGENT covers taking agents out. The maintenance and operation queries answer
//! with their (empty) truth; LIST_FILES and READ_FILE answer 404, as the master exposes no
//! files.

mod stream;

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use mesos_proto::v1::maintenance;
use mesos_proto::v1::master::{self, call, response};
use tracing::debug;

use crate::api::{error_response, read_request};
use crate::engine::admin::{self, OperatorError};
use crate::engine::{Encoding, Engine};
use crate::handle::MasterHandle;
use crate::views::operator as views;
use mesos_common::auth::{Action, Object, Principal};

impl OperatorError {
    fn status(&self) -> StatusCode {
        match self {
            OperatorError::BadRequest(_) => StatusCode::BAD_REQUEST,
            OperatorError::NotFound(_) => StatusCode::NOT_FOUND,
            OperatorError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            OperatorError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            OperatorError::Forbidden => StatusCode::FORBIDDEN,
        }
    }
}

impl IntoResponse for OperatorError {
    fn into_response(self) -> Response {
        if matches!(self, OperatorError::Forbidden) {
            return mesos_common::auth::http::forbidden();
        }
        error_response(self.status(), self.to_string())
    }
}

/// `POST /api/v1`.
pub(crate) fn router(handle: MasterHandle) -> Router {
    // The master's process id is `master`: `/master/api/v1` is the same endpoint.
    Router::new()
        .route("/api/v1", any(api))
        .route("/master/api/v1", any(api))
        .with_state(handle)
}

async fn api(State(handle): State<MasterHandle>, request: Request) -> Response {
    // A standby sends operators to the leader before looking at the request, as Mesos.
    if let Some(response) = handle.not_leading_response("/api/v1") {
        return response;
    }
    let principal = mesos_common::auth::http::principal_of(request.extensions());
    let (encoding, accept, body) = match read_request(request, handle.max_request_body).await {
        Ok(parts) => parts,
        Err(e) => return e.into_response(),
    };
    let call = match decode_call(encoding, &body) {
        Ok(c) => c,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, e),
    };
    let kind = match validate_call(&call) {
        Ok(kind) => kind,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("Failed to validate master::Call: {e}"),
            )
        }
    };
    debug!(call = kind.as_str_name(), "operator call");
    if kind == call::Type::Subscribe {
        return stream::subscribe(handle, accept).await;
    }
    match answer(&handle, call, kind, principal.as_ref()).await {
        Ok(Some(response)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, accept.content_type())],
            accept.encode(&response),
        )
            .into_response(),
        Ok(None) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Decodes a Call. In JSON, `google.protobuf.Duration` fields are accepted the way Mesos
/// writes them (`{"seconds": 600}`) as well as in protobuf's string form (`"600s"`).
fn decode_call(encoding: Encoding, body: &[u8]) -> Result<master::Call, String> {
    let failed = |e: &dyn std::fmt::Display| format!("Failed to parse body into Call: {e}");
    match encoding {
        Encoding::Json => {
            let mut value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| failed(&e))?;
            if let Some(grace) = value
                .get_mut("drain_agent")
                .and_then(|d| d.get_mut("max_grace_period"))
            {
                if let Some(text) = duration_text(grace) {
                    *grace = serde_json::Value::String(text);
                }
            }
            mesos_proto::json::from_json_value::<master::Call>(&value).map_err(|e| failed(&e))
        }
        Encoding::Protobuf => {
            mesos_proto::decode_checked::<master::Call>(body).map_err(|e| failed(&e))
        }
    }
}

/// `{"seconds": s, "nanos": n}` as protobuf's JSON text for a Duration (`"s.nnnnnnnnns"`);
/// None for anything else, which the decoder then judges.
fn duration_text(value: &serde_json::Value) -> Option<String> {
    let object = value.as_object()?;
    if object.keys().any(|k| k != "seconds" && k != "nanos") {
        return None;
    }
    let seconds = match object.get("seconds") {
        None => 0,
        Some(s) => s.as_i64().or_else(|| s.as_str()?.parse().ok())?,
    };
    let nanos = match object.get("nanos") {
        None => 0,
        Some(n) => i32::try_from(n.as_i64()?).ok()?,
    };
    let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
    Some(format!(
        "{sign}{}.{:09}s",
        seconds.unsigned_abs(),
        nanos.unsigned_abs()
    ))
}

/// The call's type, once the part its type needs is known to be present.
fn validate_call(call: &master::Call) -> Result<call::Type, String> {
    let Some(raw) = call.r#type else {
        return Err("Expecting 'type' to be present".to_string());
    };
    let kind = call::Type::try_from(raw).map_err(|_| format!("Unknown call type {raw}"))?;
    use call::Type as T;
    #[allow(deprecated)] // SET_QUOTA and REMOVE_QUOTA are still served
    let present = match kind {
        T::Unknown => return Err("Expecting 'type' to be a known call type".to_string()),
        T::SetLoggingLevel => call.set_logging_level.is_some(),
        T::ListFiles => call.list_files.is_some(),
        T::ReadFile => call.read_file.is_some(),
        T::UpdateWeights => call.update_weights.is_some(),
        T::ReserveResources => call.reserve_resources.is_some(),
        T::UnreserveResources => call.unreserve_resources.is_some(),
        T::CreateVolumes => call.create_volumes.is_some(),
        T::DestroyVolumes => call.destroy_volumes.is_some(),
        T::GrowVolume => call.grow_volume.is_some(),
        T::ShrinkVolume => call.shrink_volume.is_some(),
        T::UpdateMaintenanceSchedule => call.update_maintenance_schedule.is_some(),
        T::StartMaintenance => call.start_maintenance.is_some(),
        T::StopMaintenance => call.stop_maintenance.is_some(),
        T::DrainAgent => call.drain_agent.is_some(),
        T::DeactivateAgent => call.deactivate_agent.is_some(),
        T::ReactivateAgent => call.reactivate_agent.is_some(),
        T::UpdateQuota => call.update_quota.is_some(),
        T::SetQuota => call.set_quota.is_some(),
        T::RemoveQuota => call.remove_quota.is_some(),
        T::Teardown => call.teardown.is_some(),
        T::MarkAgentGone => call.mark_agent_gone.is_some(),
        T::GetHealth
        | T::GetFlags
        | T::GetVersion
        | T::GetMetrics
        | T::GetLoggingLevel
        | T::GetState
        | T::GetAgents
        | T::GetFrameworks
        | T::GetExecutors
        | T::GetOperations
        | T::GetTasks
        | T::GetRoles
        | T::GetWeights
        | T::GetMaster
        | T::Subscribe
        | T::GetMaintenanceStatus
        | T::GetMaintenanceSchedule
        | T::GetQuota => true,
    };
    if !present {
        let name = kind.as_str_name().to_ascii_lowercase();
        return Err(format!("Expecting '{name}' to be present"));
    }
    if let Some(timeout) = call.get_metrics.as_ref().and_then(|m| m.timeout) {
        if timeout.nanoseconds < 0 {
            return Err("'get_metrics.timeout' must not be negative".to_string());
        }
    }
    Ok(kind)
}

async fn read<T: Send + 'static>(
    handle: &MasterHandle,
    f: impl FnOnce(&Engine) -> T + Send + 'static,
) -> Result<T, OperatorError> {
    handle.inspect(f).await.ok_or(OperatorError::Unavailable)
}

async fn change(
    handle: &MasterHandle,
    f: impl FnOnce(&mut Engine, Duration) -> Result<(), OperatorError> + Send + 'static,
) -> Result<Option<master::Response>, OperatorError> {
    handle.mutate(f).await.ok_or(OperatorError::Unavailable)??;
    Ok(None)
}

/// Answers one call (anything but SUBSCRIBE): a Response, or None for an empty 200.
#[allow(deprecated)] // SET_QUOTA and REMOVE_QUOTA are still served
async fn answer(
    handle: &MasterHandle,
    call: master::Call,
    kind: call::Type,
    principal: Option<&Principal>,
) -> Result<Option<master::Response>, OperatorError> {
    use call::Type as T;
    use response::Type as R;
    let viewer = handle.viewer(principal);
    let may = |action: Action, object: Object<'_>| -> Result<(), OperatorError> {
        match handle.authorized(action, principal, object) {
            true => Ok(()),
            false => Err(OperatorError::Forbidden),
        }
    };
    let name = principal.and_then(|p| p.value.clone());
    let out = match kind {
        T::GetHealth => {
            // Answered by the engine's actor: a master too busy to answer is not healthy.
            read(handle, |_| ()).await?;
            let mut r = views::response(R::GetHealth);
            r.get_health = Some(response::GetHealth { healthy: true });
            r
        }
        T::GetFlags => {
            may(Action::ViewFlags, Object::Any)?;
            let mut r = views::response(R::GetFlags);
            r.get_flags = Some(read(handle, views::flags).await?);
            r
        }
        T::GetVersion => {
            let mut r = views::response(R::GetVersion);
            r.get_version = Some(views::version());
            r
        }
        T::GetMetrics => {
            // Metrics are computed at once, well within any timeout.
            let mut r = views::response(R::GetMetrics);
            r.get_metrics = Some(read(handle, views::metrics).await?);
            r
        }
        T::GetLoggingLevel => {
            // glog's verbosity, which Mesos reports here, is 0 unless raised.
            let mut r = views::response(R::GetLoggingLevel);
            r.get_logging_level = Some(response::GetLoggingLevel { level: 0 });
            r
        }
        T::GetState => {
            let mut r = views::response(R::GetState);
            let v = viewer.clone();
            r.get_state = Some(
                read(handle, move |e| {
                    let mut s = views::state(e);
                    if !v.sees_everything() {
                        let users = framework_users(e);
                        if let Some(f) = s.get_frameworks.as_mut() {
                            v.frameworks(f);
                        }
                        if let Some(t) = s.get_tasks.as_mut() {
                            v.tasks(t, &users);
                        }
                        if let Some(x) = s.get_executors.as_mut() {
                            v.executors(x, &users);
                        }
                    }
                    s
                })
                .await?,
            );
            r
        }
        T::GetAgents => {
            let mut r = views::response(R::GetAgents);
            r.get_agents = Some(read(handle, views::agents).await?);
            r
        }
        T::GetFrameworks => {
            let mut r = views::response(R::GetFrameworks);
            let mut frameworks = read(handle, views::frameworks).await?;
            viewer.frameworks(&mut frameworks);
            r.get_frameworks = Some(frameworks);
            r
        }
        T::GetExecutors => {
            let mut r = views::response(R::GetExecutors);
            let v = viewer.clone();
            r.get_executors = Some(
                read(handle, move |e| {
                    let mut x = views::executors(e);
                    v.executors(&mut x, &framework_users(e));
                    x
                })
                .await?,
            );
            r
        }
        T::GetTasks => {
            let mut r = views::response(R::GetTasks);
            let v = viewer.clone();
            r.get_tasks = Some(
                read(handle, move |e| {
                    let mut t = views::tasks(e);
                    if !v.sees_everything() {
                        v.tasks(&mut t, &framework_users(e));
                    }
                    t
                })
                .await?,
            );
            r
        }
        T::GetOperations => {
            // No offer operation of this master reports status, so none is ever known.
            let mut r = views::response(R::GetOperations);
            r.get_operations = Some(response::GetOperations::default());
            r
        }
        T::GetRoles => {
            let mut r = views::response(R::GetRoles);
            let mut roles = read(handle, views::roles).await?;
            roles.roles.retain(|role| viewer.may_see_role(&role.name));
            r.get_roles = Some(roles);
            r
        }
        T::GetWeights => {
            let mut r = views::response(R::GetWeights);
            let mut weights = read(handle, views::weights).await?;
            weights
                .weight_infos
                .retain(|w| viewer.may_see_role(w.role.as_deref().unwrap_or("")));
            r.get_weights = Some(weights);
            r
        }
        T::GetMaster => {
            let mut r = views::response(R::GetMaster);
            r.get_master = Some(read(handle, views::master).await?);
            r
        }
        T::GetQuota => {
            let mut r = views::response(R::GetQuota);
            let mut quota = read(handle, admin::quota_status).await?;
            let may_get =
                |role: &str| handle.authorized(Action::GetQuotas, principal, Object::Value(role));
            quota
                .status
                .infos
                .retain(|i| may_get(i.role.as_deref().unwrap_or("")));
            quota.status.configs.retain(|c| may_get(&c.role));
            r.get_quota = Some(quota);
            r
        }
        T::GetMaintenanceStatus => {
            let mut r = views::response(R::GetMaintenanceStatus);
            r.get_maintenance_status = Some(response::GetMaintenanceStatus {
                status: maintenance::ClusterStatus::default(),
            });
            r
        }
        T::GetMaintenanceSchedule => {
            let mut r = views::response(R::GetMaintenanceSchedule);
            r.get_maintenance_schedule = Some(response::GetMaintenanceSchedule {
                schedule: maintenance::Schedule::default(),
            });
            r
        }
        T::ListFiles | T::ReadFile => {
            let path = call
                .list_files
                .map(|l| l.path)
                .or(call.read_file.map(|r| r.path))
                .unwrap_or_default();
            return Err(OperatorError::NotFound(format!(
                "Path '{path}' not found: this master serves no files"
            )));
        }
        T::Teardown => {
            let id = call.teardown.unwrap_or_default().framework_id.value;
            return change(handle, move |e, now| {
                if let Some(f) = e.frameworks.get(&id) {
                    let owner = f.info.principal.clone().unwrap_or_default();
                    if !e.acls.approved(
                        Action::TeardownFrameworks,
                        name.as_deref(),
                        Object::Value(&owner),
                    ) {
                        return Err(OperatorError::Forbidden);
                    }
                }
                admin::teardown(e, &id, now)
            })
            .await;
        }
        T::MarkAgentGone => {
            may(Action::MarkAgentsGone, Object::Any)?;
            let id = call.mark_agent_gone.unwrap_or_default().agent_id.value;
            return change(handle, move |e, now| admin::mark_agent_gone(e, &id, now)).await;
        }
        T::DeactivateAgent => {
            let id = call.deactivate_agent.unwrap_or_default().agent_id.value;
            return change(handle, move |e, now| admin::deactivate_agent(e, &id, now)).await;
        }
        T::ReactivateAgent => {
            let id = call.reactivate_agent.unwrap_or_default().agent_id.value;
            return change(handle, move |e, _| admin::reactivate_agent(e, &id)).await;
        }
        T::DrainAgent => {
            // The engine's tick watches the drain until the agent is drained.
            let drain = call.drain_agent.unwrap_or_default();
            return change(handle, move |e, now| {
                admin::drain_agent(e, drain, now).map(|_| ())
            })
            .await;
        }
        T::UpdateWeights => {
            let infos = call.update_weights.unwrap_or_default().weight_infos;
            for info in &infos {
                may(
                    Action::UpdateWeights,
                    Object::Value(info.role.as_deref().unwrap_or("")),
                )?;
            }
            return change(handle, move |e, _| admin::update_weights(e, infos)).await;
        }
        T::UpdateQuota => {
            let update = call.update_quota.unwrap_or_default();
            for config in &update.quota_configs {
                may(Action::UpdateQuotas, Object::Value(&config.role))?;
            }
            return change(handle, move |e, now| admin::update_quota(e, update, now)).await;
        }
        T::SetQuota => {
            let request = call.set_quota.unwrap_or_default().quota_request;
            may(
                Action::UpdateQuotas,
                Object::Value(request.role.as_deref().unwrap_or("")),
            )?;
            return change(handle, move |e, now| admin::set_quota(e, request, now)).await;
        }
        T::RemoveQuota => {
            let role = call.remove_quota.unwrap_or_default().role;
            may(Action::UpdateQuotas, Object::Value(&role))?;
            return change(handle, move |e, now| admin::remove_quota(e, &role, now)).await;
        }
        T::SetLoggingLevel => {
            return Err(OperatorError::NotImplemented(
                "SET_LOGGING_LEVEL is not supported: set RUST_LOG when starting the master"
                    .to_string(),
            ))
        }
        T::ReserveResources
        | T::UnreserveResources
        | T::CreateVolumes
        | T::DestroyVolumes
        | T::GrowVolume
        | T::ShrinkVolume => {
            return Err(OperatorError::NotImplemented(format!(
            "{} is not supported: this master has no dynamic reservations or persistent volumes",
            kind.as_str_name()
        )))
        }
        T::UpdateMaintenanceSchedule | T::StartMaintenance | T::StopMaintenance => {
            return Err(OperatorError::NotImplemented(format!(
                "{} is not supported: this master has no maintenance schedule; use DRAIN_AGENT",
                kind.as_str_name()
            )))
        }
        T::Subscribe | T::Unknown => {
            return Err(OperatorError::BadRequest(format!(
                "{} is not answered here",
                kind.as_str_name()
            )))
        }
    };
    Ok(Some(out))
}

/// Each framework's user, by id, for the task and executor filters.
fn framework_users(e: &Engine) -> impl Fn(&str) -> Option<String> + '_ {
    move |id: &str| {
        e.frameworks
            .get(id)
            .map(|f| f.info.user.clone())
            .or_else(|| {
                e.completed_frameworks
                    .iter()
                    .find(|f| f.id == id)
                    .map(|f| f.info.user.clone())
            })
    }
}

#[cfg(test)]
mod tests;
