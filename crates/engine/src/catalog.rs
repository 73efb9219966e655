//! The catalog: state machines, their versions and aliases, activities and tags, as the
//! Step Functions API changes and reads them. Its rules live here and nowhere else: AWS's
//! names, version numbering and publishing, alias routing (checked when written, drawn from
//! the engine's randomness when an execution starts), which definitions an Express machine
//! may hold, idempotent creation. Each operation takes typed input and answers a typed
//! result or an [`EngineError`] named as AWS names it.
//!
//! Activities and tags are in [`activities`] and [`tags`]; which version an execution of a
//! machine, version or alias runs is [`Engine::resolve`].

use asl::eval::Randomness;
use serde_json::{Map, Value};
use store::StateMachineType;
use store::StoreError;
pub use store::{ActivityRow, AliasRow, StateMachineRow, VersionRow};

use crate::arn::{Arns, MachineRef};
use crate::clock::now_ms;
use crate::error::EngineError;
use crate::page::Page;
use crate::random::OsRandomness;
use crate::service::{Engine, Millis};

pub mod activities;
pub mod tags;

pub use tags::Tags;

/// AWS's name rules for state machines, executions, activities and aliases.
pub fn check_name(name: &str) -> Result<(), EngineError> {
    let len = name.chars().count();
    let bad = |c: char| {
        c.is_whitespace()
            || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
            || (c as u32) <= 0x1f
            || (0x7f..=0x9f).contains(&(c as u32))
            || c == '\u{FFFE}'
            || c == '\u{FFFF}'
    };
    if len == 0 || len > 80 || name.chars().any(bad) {
        return Err(EngineError::InvalidName(format!("Invalid Name: '{name}'")));
    }
    Ok(())
}

/// The configuration members of a state machine (`loggingConfiguration`,
/// `tracingConfiguration`, `encryptionConfiguration`), kept as given.
pub const CONFIGURATION_KEYS: [&str; 3] = ["loggingConfiguration", "tracingConfiguration", "encryptionConfiguration"];

/// A state machine as CreateStateMachine gives it.
#[derive(Debug, Clone)]
pub struct NewStateMachine {
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: StateMachineType,
    /// The given members of [`CONFIGURATION_KEYS`].
    pub configuration: Map<String, Value>,
    pub tags: Option<Tags>,
    /// Publish the first version at once, with this description.
    pub publish: bool,
    pub version_description: Option<String>,
}

/// What CreateStateMachine answers.
#[derive(Debug, Clone)]
pub struct CreatedStateMachine {
    pub arn: String,
    pub created: Millis,
    pub version_arn: Option<String>,
}

/// The changes UpdateStateMachine asks for (what is absent stays).
#[derive(Debug, Clone, Default)]
pub struct StateMachineUpdate {
    pub definition: Option<String>,
    pub role_arn: Option<String>,
    pub configuration: Map<String, Value>,
    pub publish: bool,
    pub version_description: Option<String>,
}

/// What UpdateStateMachine answers.
#[derive(Debug, Clone)]
pub struct UpdatedStateMachine {
    pub updated: Millis,
    pub revision_id: String,
    pub version_arn: Option<String>,
}

/// A state machine or one of its versions, as DescribeStateMachine shows it.
#[derive(Debug, Clone)]
pub struct DescribedStateMachine {
    /// The ARN asked about.
    pub arn: String,
    pub machine: StateMachineRow,
    /// The version, when the ARN names one.
    pub version: Option<VersionRow>,
}

/// An alias as CreateStateMachineAlias gives it.
#[derive(Debug, Clone)]
pub struct NewAlias {
    pub name: String,
    pub description: Option<String>,
    /// `routingConfiguration` as given: `[{stateMachineVersionArn, weight}]`.
    pub routing: Value,
}

/// The definition and version an execution of a machine, version or alias runs, with the
/// alias that chose it.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub machine: StateMachineRow,
    pub definition: String,
    pub role_arn: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
}

/// One finding of ValidateStateMachineDefinition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `ERROR` or `WARNING`.
    pub severity: &'static str,
    pub code: String,
    pub message: String,
    /// A JSON pointer into the definition.
    pub location: String,
}

/// ValidateStateMachineDefinition's findings: errors make the definition invalid (AWS's
/// codes and messages); warnings are Baton's, for definitions AWS accepts that cannot work
/// as meant here.
#[derive(Debug, Clone, Default)]
pub struct DefinitionCheck {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Check a definition as ValidateStateMachineDefinition does. A callback or activity wait
/// without a timeout is a warning (it hangs for a year when the answer never comes), and so
/// is a `.sync` Task Baton cannot follow.
pub fn check_definition(definition: &str) -> DefinitionCheck {
    if let Err(e) = asl::Definition::parse(definition) {
        let errors = e
            .problems
            .iter()
            .map(|p| Diagnostic {
                severity: "ERROR",
                code: p.code.as_str().to_owned(),
                message: p.message.clone(),
                location: p.location.clone(),
            })
            .collect();
        return DefinitionCheck { errors, warnings: Vec::new() };
    }
    let parsed: Value = serde_json::from_str(definition).unwrap_or(Value::Null);
    let waits = asl::definition::waits_without_timeout(&parsed).into_iter().map(|(location, state)| Diagnostic {
        severity: "WARNING",
        code: "NO_TASK_TIMEOUT".into(),
        message: format!(
            "State '{state}' waits for a task token or an activity worker without TimeoutSeconds: \
             if no answer comes it waits up to a year"
        ),
        location,
    });
    let syncs =
        crate::aws::tasks::unfollowed_sync_tasks(&parsed).into_iter().map(|(location, state, resource)| Diagnostic {
            severity: "WARNING",
            code: "UNSUPPORTED_SYNC".into(),
            message: format!(
                "State '{state}' waits for '{resource}' to finish (.sync), which Baton cannot follow: \
                 the Task fails with Baton.UnsupportedResource; call it without .sync and poll its status"
            ),
            location,
        });
    DefinitionCheck { errors: Vec::new(), warnings: waits.chain(syncs).collect() }
}

fn no_machine(arn: &str) -> EngineError {
    EngineError::StateMachineDoesNotExist(arn.to_owned())
}

/// Express machines run in memory and answer at once: a Task that waits for a callback
/// cannot run there, and AWS refuses it when the machine is created or updated.
fn check_express(definition: &str) -> Result<(), EngineError> {
    fn find(states: &Value, at: &str) -> Option<String> {
        for (name, state) in states.as_object()? {
            let here = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
            let resource = state.get("Resource").and_then(Value::as_str).unwrap_or_default();
            if resource.ends_with(".waitForTaskToken") {
                return Some(format!("{here}/Resource"));
            }
            if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
                for (i, b) in branches.iter().enumerate() {
                    if let Some(found) = b.get("States").and_then(|s| find(s, &format!("{here}/Branches/{i}/States"))) {
                        return Some(found);
                    }
                }
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(found) =
                    state.get(key).and_then(|p| p.get("States")).and_then(|s| find(s, &format!("{here}/{key}/States")))
                {
                    return Some(found);
                }
            }
        }
        None
    }
    let parsed: Value = serde_json::from_str(definition).unwrap_or(Value::Null);
    match parsed.get("States").and_then(|s| find(s, "/States")) {
        Some(at) => Err(EngineError::InvalidDefinition(format!(
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not \
             support '.waitForTaskToken' service integration at {at}'"
        ))),
        None => Ok(()),
    }
}

/// Check a routing configuration: 1-2 versions of this machine, weights adding up to 100
/// (the versions' existence is checked against the store by [`Engine::check_routing`]).
fn check_routing_shape(base_arn: &str, routing: &Value) -> Result<Vec<String>, EngineError> {
    let Some(items) = routing.as_array().filter(|a| (1..=2).contains(&a.len())) else {
        return Err(EngineError::Validation("Routing configuration must contain one or two versions".into()));
    };
    let mut total = 0;
    let mut versions = Vec::with_capacity(items.len());
    for item in items {
        let version_arn = item.get("stateMachineVersionArn").and_then(Value::as_str).unwrap_or_default();
        let weight = item.get("weight").and_then(Value::as_i64).unwrap_or(-1);
        if !(0..=100).contains(&weight) {
            return Err(EngineError::Validation("Routing weights must be between 0 and 100".into()));
        }
        total += weight;
        match MachineRef::parse(version_arn)? {
            MachineRef::Version { base_arn: b, .. } if b == base_arn => {}
            _ => {
                return Err(EngineError::Validation(format!(
                    "Invalid version ARN in the routing configuration: {version_arn}"
                )))
            }
        }
        versions.push(version_arn.to_owned());
    }
    if total != 100 {
        return Err(EngineError::Validation("Sum of routing configuration weights must be equal to 100".into()));
    }
    Ok(versions)
}

/// The version a start through an alias runs: the weighted choice among the alias's
/// routes, by one draw of the engine's randomness (uniform over 0..100 against the
/// cumulative weights, so a 100% route is always taken). The first route when none is
/// chosen (weights that do not add up, which the catalog never stores).
pub fn route(routing: &Value, random: &mut dyn Randomness) -> Option<String> {
    let items = routing.as_array()?;
    let roll = (random.next_u64() % 100) as i64;
    let mut acc = 0;
    let version_of = |item: &Value| item.get("stateMachineVersionArn").and_then(Value::as_str).map(str::to_owned);
    for item in items {
        acc += item.get("weight").and_then(Value::as_i64).unwrap_or(0);
        if roll < acc {
            return version_of(item);
        }
    }
    items.first().and_then(version_of)
}

impl Engine {
    /// ARNs in this engine's region and account.
    pub fn arns(&self) -> Arns {
        Arns { region: self.config().region.clone(), account: self.config().account.clone() }
    }

    fn check_parses(&self, definition: &str) -> Result<(), EngineError> {
        self.definition(definition).map(|_| ())
    }

    async fn load_machine(&self, arn: &str) -> Result<StateMachineRow, EngineError> {
        self.store().get_state_machine(arn).await?.ok_or_else(|| no_machine(arn))
    }

    /// CreateStateMachine: idempotent when the same definition, type and configuration are
    /// given again (the first creation date is answered); another machine of the name is a
    /// conflict.
    pub async fn create_state_machine(&self, new: NewStateMachine) -> Result<CreatedStateMachine, EngineError> {
        self.check_parses(&new.definition)?;
        if new.kind == StateMachineType::Express {
            check_express(&new.definition)?;
        }
        let arn = self.arns().state_machine(&new.name);
        let now = now_ms();
        let row = StateMachineRow {
            arn: arn.clone(),
            name: new.name,
            definition: new.definition,
            role_arn: new.role_arn,
            kind: new.kind,
            created: now,
            updated: now,
            revision_id: self.new_name(),
            description: None,
            config: Value::Object(new.configuration).to_string(),
        };
        match self.store().insert_state_machine(&row).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                let existing = self.load_machine(&arn).await?;
                let same =
                    existing.definition == row.definition && existing.kind == row.kind && existing.config == row.config;
                if !same {
                    return Err(EngineError::StateMachineAlreadyExists(arn));
                }
                return Ok(CreatedStateMachine { arn, created: existing.created, version_arn: None });
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(tags) = new.tags {
            self.add_tags(&arn, tags).await?;
        }
        let version_arn =
            if new.publish { Some(self.publish_revision(&row, new.version_description).await?.arn) } else { None };
        Ok(CreatedStateMachine { arn, created: now, version_arn })
    }

    /// Publish the machine's current revision as a version: the next number, or the version
    /// that has this revision already.
    async fn publish_revision(
        &self,
        row: &StateMachineRow,
        description: Option<String>,
    ) -> Result<VersionRow, EngineError> {
        let versions = self.store().list_versions(&row.arn).await?;
        if let Some(v) = versions.iter().find(|v| v.revision_id == row.revision_id) {
            return Ok(v.clone());
        }
        let next = versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        let v = VersionRow {
            arn: format!("{}:{next}", row.arn),
            state_machine_arn: row.arn.clone(),
            version: next,
            definition: row.definition.clone(),
            role_arn: row.role_arn.clone(),
            revision_id: row.revision_id.clone(),
            description,
            created: now_ms(),
        };
        self.store().insert_version(&v).await?;
        Ok(v)
    }

    /// DescribeStateMachine of a machine or a version (an alias is not described here).
    pub async fn describe_state_machine(&self, machine: &MachineRef) -> Result<DescribedStateMachine, EngineError> {
        match machine {
            MachineRef::Base { arn, .. } => {
                let row = self.load_machine(arn).await?;
                Ok(DescribedStateMachine { arn: arn.clone(), machine: row, version: None })
            }
            MachineRef::Version { base_arn, arn, .. } => {
                let row = self.load_machine(base_arn).await?;
                let v = self.store().get_version(arn).await?.ok_or_else(|| no_machine(arn))?;
                Ok(DescribedStateMachine { arn: arn.clone(), machine: row, version: Some(v) })
            }
            MachineRef::Alias { arn, .. } => Err(EngineError::invalid_arn(arn)),
        }
    }

    /// A state machine's own record, if it exists.
    pub async fn state_machine(&self, arn: &str) -> Result<StateMachineRow, EngineError> {
        self.load_machine(arn).await
    }

    /// UpdateStateMachine: a new definition or role makes a new revision; `publish` then
    /// publishes it.
    pub async fn update_state_machine(
        &self,
        machine: &MachineRef,
        update: StateMachineUpdate,
    ) -> Result<UpdatedStateMachine, EngineError> {
        let MachineRef::Base { arn, .. } = machine else { return Err(EngineError::invalid_arn(machine.arn())) };
        let mut row = self.load_machine(arn).await?;
        if let Some(d) = update.definition {
            self.check_parses(&d)?;
            if row.kind == StateMachineType::Express {
                check_express(&d)?;
            }
            if d != row.definition {
                row.definition = d;
                row.revision_id = self.new_name();
            }
        }
        if let Some(r) = update.role_arn {
            if r != row.role_arn {
                row.role_arn = r;
                row.revision_id = self.new_name();
            }
        }
        if !update.configuration.is_empty() {
            let mut cfg: Map<String, Value> = serde_json::from_str(&row.config).unwrap_or_default();
            cfg.extend(update.configuration);
            row.config = Value::Object(cfg).to_string();
        }
        row.updated = now_ms();
        self.store().update_state_machine(&row).await?;
        let version_arn = if update.publish {
            Some(self.publish_revision(&row, update.version_description).await?.arn)
        } else {
            None
        };
        Ok(UpdatedStateMachine { updated: row.updated, revision_id: row.revision_id, version_arn })
    }

    /// DeleteStateMachine: a machine (its running executions are stopped, as AWS stops them
    /// at their next transition) or, given a version's ARN, that version.
    pub async fn delete_state_machine(&self, machine: &MachineRef) -> Result<(), EngineError> {
        match machine {
            MachineRef::Base { arn, .. } => {
                let mut after: Option<String> = None;
                loop {
                    let running = self.store().list_executions(arn, Some("RUNNING"), after.as_deref(), 500).await?;
                    for e in &running {
                        self.request_stop(&e.arn, None, None).await?;
                    }
                    match running.last() {
                        Some(last) if running.len() == 500 => after = Some(last.arn.clone()),
                        _ => break,
                    }
                }
                self.store().delete_state_machine(arn).await?;
                Ok(())
            }
            MachineRef::Version { .. } => self.delete_state_machine_version(machine).await,
            MachineRef::Alias { arn, .. } => Err(EngineError::invalid_arn(arn)),
        }
    }

    /// ListStateMachines, in ARN order.
    pub async fn list_state_machines(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<StateMachineRow>, EngineError> {
        let rows = self.store().list_state_machines(after, limit + 1).await?;
        Ok(Page::of_rows(rows, limit, |r| r.arn.clone()))
    }

    // ----- versions -------------------------------------------------------------------------

    /// PublishStateMachineVersion; with `revision_id`, only if it is still the machine's.
    pub async fn publish_state_machine_version(
        &self,
        machine: &MachineRef,
        revision_id: Option<&str>,
        description: Option<String>,
    ) -> Result<VersionRow, EngineError> {
        let MachineRef::Base { arn, .. } = machine else { return Err(EngineError::invalid_arn(machine.arn())) };
        let row = self.load_machine(arn).await?;
        if let Some(rev) = revision_id {
            if rev != row.revision_id {
                return Err(EngineError::Conflict(format!(
                    "Failed to publish the State Machine version for revision {rev}. The current State Machine revision is {}.",
                    row.revision_id
                )));
            }
        }
        self.publish_revision(&row, description).await
    }

    /// ListStateMachineVersions.
    pub async fn list_state_machine_versions(
        &self,
        machine: &MachineRef,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<VersionRow>, EngineError> {
        let MachineRef::Base { arn, .. } = machine else { return Err(EngineError::invalid_arn(machine.arn())) };
        self.load_machine(arn).await?;
        let versions = self.store().list_versions(arn).await?;
        Ok(Page::of_all(versions, |v| v.arn.clone(), after, limit))
    }

    /// DeleteStateMachineVersion: refused while an alias routes to it.
    pub async fn delete_state_machine_version(&self, version: &MachineRef) -> Result<(), EngineError> {
        let MachineRef::Version { base_arn, arn, .. } = version else {
            return Err(EngineError::invalid_arn(version.arn()));
        };
        let aliases = self.store().list_aliases(base_arn).await?;
        if aliases.iter().any(|a| a.routing.contains(&format!("\"{arn}\""))) {
            return Err(EngineError::Conflict(format!(
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                aliases.iter().filter(|a| a.routing.contains(arn.as_str())).map(|a| a.arn.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        self.store().delete_version(arn).await?;
        Ok(())
    }

    // ----- aliases --------------------------------------------------------------------------

    /// Check a routing configuration of `base_arn`'s versions, each of which must exist.
    async fn check_routing(&self, base_arn: &str, routing: &Value) -> Result<(), EngineError> {
        for version_arn in check_routing_shape(base_arn, routing)? {
            if self.store().get_version(&version_arn).await?.is_none() {
                return Err(EngineError::ResourceNotFound(version_arn));
            }
        }
        Ok(())
    }

    /// CreateStateMachineAlias: idempotent when the same routing and description are given
    /// again; another configuration under the name is a conflict.
    pub async fn create_state_machine_alias(&self, new: NewAlias) -> Result<AliasRow, EngineError> {
        check_name(&new.name)?;
        if new.name.chars().all(|c| c.is_ascii_digit()) {
            return Err(EngineError::InvalidName(format!("Invalid Name: '{}'", new.name)));
        }
        let first = new
            .routing
            .get(0)
            .and_then(|r| r.get("stateMachineVersionArn"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let base = MachineRef::parse(first)?.base_arn().to_owned();
        self.load_machine(&base).await?;
        self.check_routing(&base, &new.routing).await?;
        let arn = format!("{base}:{}", new.name);
        let now = now_ms();
        let row = AliasRow {
            arn: arn.clone(),
            state_machine_arn: base,
            name: new.name,
            description: new.description,
            routing: new.routing.to_string(),
            created: now,
            updated: now,
        };
        match self.store().insert_alias(&row).await {
            Ok(()) => Ok(row),
            Err(StoreError::AlreadyExists(_)) => {
                let existing =
                    self.store().get_alias(&arn).await?.ok_or_else(|| EngineError::ResourceNotFound(arn.clone()))?;
                if existing.routing == row.routing && existing.description == row.description {
                    Ok(existing)
                } else {
                    Err(EngineError::Conflict(format!("Alias already exists with a different configuration: '{arn}'")))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn load_alias(&self, alias: &MachineRef) -> Result<AliasRow, EngineError> {
        let MachineRef::Alias { arn, .. } = alias else { return Err(EngineError::invalid_arn(alias.arn())) };
        self.store().get_alias(arn).await?.ok_or_else(|| EngineError::ResourceNotFound(arn.clone()))
    }

    /// DescribeStateMachineAlias.
    pub async fn describe_state_machine_alias(&self, alias: &MachineRef) -> Result<AliasRow, EngineError> {
        self.load_alias(alias).await
    }

    /// UpdateStateMachineAlias: a new routing (checked as at creation) or description.
    pub async fn update_state_machine_alias(
        &self,
        alias: &MachineRef,
        routing: Option<&Value>,
        description: Option<String>,
    ) -> Result<Millis, EngineError> {
        let mut a = self.load_alias(alias).await?;
        if let Some(routing) = routing {
            self.check_routing(alias.base_arn(), routing).await?;
            a.routing = routing.to_string();
        }
        if let Some(d) = description {
            a.description = Some(d);
        }
        a.updated = now_ms();
        self.store().update_alias(&a).await?;
        Ok(a.updated)
    }

    /// DeleteStateMachineAlias (an alias that does not exist is deleted already).
    pub async fn delete_state_machine_alias(&self, alias: &MachineRef) -> Result<(), EngineError> {
        let MachineRef::Alias { arn, .. } = alias else { return Err(EngineError::invalid_arn(alias.arn())) };
        self.store().delete_alias(arn).await?;
        Ok(())
    }

    /// ListStateMachineAliases of the machine an ARN names.
    pub async fn list_state_machine_aliases(
        &self,
        machine: &MachineRef,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AliasRow>, EngineError> {
        let base = machine.base_arn();
        self.load_machine(base).await?;
        let aliases = self.store().list_aliases(base).await?;
        Ok(Page::of_all(aliases, |a| a.arn.clone(), after, limit))
    }

    /// What an execution of a machine, version or alias runs. Through an alias, the version
    /// is drawn by the alias's weights ([`route`]). A missing version or alias is a state
    /// machine that does not exist (StartExecution's errors have no ResourceNotFound).
    pub async fn resolve(&self, machine: &MachineRef) -> Result<Resolved, EngineError> {
        match machine {
            MachineRef::Base { arn, .. } => {
                let m = self.load_machine(arn).await?;
                Ok(Resolved {
                    definition: m.definition.clone(),
                    role_arn: m.role_arn.clone(),
                    machine: m,
                    version_arn: None,
                    alias_arn: None,
                })
            }
            MachineRef::Version { base_arn, arn, .. } => {
                let m = self.load_machine(base_arn).await?;
                let v = self.store().get_version(arn).await?.ok_or_else(|| no_machine(arn))?;
                Ok(Resolved {
                    definition: v.definition,
                    role_arn: v.role_arn,
                    machine: m,
                    version_arn: Some(arn.clone()),
                    alias_arn: None,
                })
            }
            MachineRef::Alias { base_arn, arn, .. } => {
                let m = self.load_machine(base_arn).await?;
                let a = self.store().get_alias(arn).await?.ok_or_else(|| no_machine(arn))?;
                let routing: Value = serde_json::from_str(&a.routing).unwrap_or(Value::Null);
                let version_arn = route(&routing, &mut OsRandomness::new())
                    .ok_or_else(|| EngineError::ResourceNotFound(arn.clone()))?;
                let v = self.store().get_version(&version_arn).await?.ok_or_else(|| no_machine(&version_arn))?;
                Ok(Resolved {
                    definition: v.definition,
                    role_arn: v.role_arn,
                    machine: m,
                    version_arn: Some(version_arn),
                    alias_arn: Some(arn.clone()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use asl::eval::SplitMix64;
    use serde_json::json;

    use super::*;

    const BASE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";

    #[test]
    fn names_follow_aws_rules() {
        assert!(check_name("order-approval_2").is_ok());
        for bad in ["", "a b", "a/b", "a:b", "a$b", &"x".repeat(81)] {
            assert_eq!(check_name(bad).unwrap_err().aws_name(), "InvalidName", "{bad:?}");
        }
    }

    #[test]
    fn a_full_route_is_always_taken() {
        let routing = json!([{"stateMachineVersionArn": format!("{BASE}:1"), "weight": 100}]);
        let mut random = SplitMix64(7);
        for _ in 0..200 {
            assert_eq!(route(&routing, &mut random).as_deref(), Some(format!("{BASE}:1").as_str()));
        }
        let zero_first = json!([
            {"stateMachineVersionArn": format!("{BASE}:1"), "weight": 0},
            {"stateMachineVersionArn": format!("{BASE}:2"), "weight": 100},
        ]);
        for _ in 0..200 {
            assert_eq!(route(&zero_first, &mut random).as_deref(), Some(format!("{BASE}:2").as_str()));
        }
    }

    #[test]
    fn weights_are_honoured_over_many_starts() {
        let routing = json!([
            {"stateMachineVersionArn": format!("{BASE}:1"), "weight": 80},
            {"stateMachineVersionArn": format!("{BASE}:2"), "weight": 20},
        ]);
        let mut random = SplitMix64(42);
        let first = (0..10_000).filter(|_| route(&routing, &mut random) == Some(format!("{BASE}:1"))).count();
        assert!((7_600..=8_400).contains(&first), "80% of 10,000 starts, got {first}");
    }

    #[test]
    fn routing_is_checked_before_it_is_kept() {
        let v = |n: u32, w: i64| json!({"stateMachineVersionArn": format!("{BASE}:{n}"), "weight": w});
        assert!(check_routing_shape(BASE, &json!([v(1, 60), v(2, 40)])).is_ok());
        for (routing, message) in [
            (json!([]), "Routing configuration must contain one or two versions"),
            (json!([v(1, 50)]), "Sum of routing configuration weights must be equal to 100"),
            (json!([v(1, 101)]), "Routing weights must be between 0 and 100"),
        ] {
            let e = check_routing_shape(BASE, &routing).unwrap_err();
            assert_eq!((e.aws_name(), e.to_string().as_str()), ("ValidationException", message));
        }
        let other = json!([{"stateMachineVersionArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x:1", "weight": 100}]);
        assert_eq!(check_routing_shape(BASE, &other).unwrap_err().aws_name(), "ValidationException");
    }

    #[test]
    fn validation_reports_errors_or_warnings() {
        let invalid = check_definition(r#"{"StartAt":"Nowhere","States":{}}"#);
        assert!(!invalid.errors.is_empty() && invalid.warnings.is_empty());
        assert!(invalid.errors.iter().all(|d| d.severity == "ERROR"));
        let waits = check_definition(
            r#"{"StartAt":"W","States":{"W":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}}"#,
        );
        assert!(waits.errors.is_empty());
        assert_eq!(waits.warnings.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(), ["NO_TASK_TIMEOUT"]);
    }

    #[test]
    fn express_machines_refuse_callbacks() {
        let def = r#"{"StartAt":"W","States":{"W":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage.waitForTaskToken","End":true}}}"#;
        let e = check_express(def).unwrap_err();
        assert_eq!(e.aws_name(), "InvalidDefinition");
        assert!(e.to_string().ends_with("at /States/W/Resource'"), "{e}");
    }
}
