//! Executions as the Step Functions API sees them: StartExecution (which version runs, a
//! mock test case, Express or Standard, idempotency), StartSyncExecution, StopExecution,
//! RedriveExecution, DescribeExecution, DescribeStateMachineForExecution, ListExecutions,
//! GetExecutionHistory and ListMapRuns' execution. The durable work itself is the service's
//! ([`crate::service`]); Express executions run in memory on the in-process runner
//! ([`crate::local`]) with every integration a Standard one reaches.
//!
//! The input is parsed once ([`ExecutionInput`]) and goes down as both its text (kept in the
//! execution's record) and its value (what the interpreter starts from).

use asl::interpreter::{MapRun, Status};
use serde_json::Value;
pub use store::ExecutionRow;
use store::{ExecutionStatus, StateMachineType};

use crate::arn::{ExecutionArn, MachineRef};
use crate::catalog::{check_name, StateMachineRow};
use crate::clock::now_ms;
use crate::config::Config;
use crate::error::EngineError;
use crate::integrations::Integrations;
use crate::local::{run_local, LocalOptions};
use crate::mocks::{split_test_case, TestCaseRef, UnknownTestCase};
use crate::page::Page;
use crate::service::{Engine, Millis, ParentLink};

/// AWS's limit on an execution's input.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// An execution's input, parsed once: its text as given and its JSON value.
#[derive(Debug, Clone)]
pub struct ExecutionInput {
    text: String,
    value: Value,
}

impl ExecutionInput {
    /// Read JSON text: at most [`MAX_INPUT_BYTES`], else AWS's `InvalidExecutionInput`.
    pub fn parse(text: &str) -> Result<ExecutionInput, EngineError> {
        if text.len() > MAX_INPUT_BYTES {
            return Err(EngineError::InvalidExecutionInput(format!(
                "The input exceeds the maximum size of {MAX_INPUT_BYTES} bytes"
            )));
        }
        let value = serde_json::from_str(text).map_err(|e| EngineError::InvalidExecutionInput(e.to_string()))?;
        Ok(ExecutionInput { text: text.to_owned(), value })
    }

    /// The input of a start that has it as a value already (a trigger's request).
    pub fn from_value(value: Value) -> ExecutionInput {
        ExecutionInput { text: value.to_string(), value }
    }

    /// `{}`: the input of a start that gives none.
    pub fn empty() -> ExecutionInput {
        ExecutionInput { text: "{}".into(), value: Value::Object(Default::default()) }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A start of an execution (StartExecution, StartSyncExecution, a trigger, or a Task through
/// `states:startExecution`).
#[derive(Debug, Clone)]
pub struct StartExecution {
    /// The machine, version or alias ARN, with `#TestCase` to run a mock test case.
    pub state_machine_arn: String,
    /// The execution's name; a UUID when absent.
    pub name: Option<String>,
    pub input: ExecutionInput,
    /// The Task that started it, which it reports its end to.
    pub parent: Option<ParentLink>,
    /// Who asked, when known (kept as a Standard execution's `started_by`).
    pub started_by: Option<String>,
}

impl StartExecution {
    /// A start of `state_machine_arn` with `input` and nothing else given.
    pub fn of(state_machine_arn: &str, input: ExecutionInput) -> StartExecution {
        StartExecution {
            state_machine_arn: state_machine_arn.to_owned(),
            name: None,
            input,
            parent: None,
            started_by: None,
        }
    }
}

/// What StartExecution answers.
#[derive(Debug, Clone)]
pub struct StartedExecution {
    pub arn: ExecutionArn,
    pub start: Millis,
}

/// What StartSyncExecution answers: the Express execution, run to its end.
#[derive(Debug, Clone)]
pub struct SyncExecution {
    pub arn: ExecutionArn,
    pub state_machine_arn: String,
    pub name: String,
    pub start: Millis,
    pub stop: Millis,
    pub input: String,
    pub status: Status,
}

/// A machine's executions as ListExecutions asks for them.
#[derive(Debug, Clone)]
pub struct ListExecutions<'a> {
    /// The machine, or a version or alias of it (then only the executions it started).
    pub machine: MachineRef,
    pub status: Option<&'a str>,
    pub after: Option<&'a str>,
    pub limit: usize,
}

/// An Express execution's runner settings, sent to the thread it runs on.
struct Express {
    config: Config,
    integrations: Integrations,
    machine: String,
    name: String,
    mock: Option<TestCaseRef>,
}

impl Express {
    fn options(self) -> LocalOptions {
        LocalOptions {
            config: self.config,
            integrations: Some(self.integrations),
            fast_forward: false,
            state_machine_name: self.machine,
            execution_name: self.name,
            random: None,
            on_events: None,
            mock: self.mock,
        }
    }
}

/// A resolved start ready to run.
struct Prepared {
    machine: StateMachineRow,
    definition: String,
    role_arn: String,
    version_arn: Option<String>,
    alias_arn: Option<String>,
    mock: Option<TestCaseRef>,
    name: String,
}

impl Engine {
    /// Resolve what a start runs, check its test case and name.
    async fn prepare(&self, start: &StartExecution) -> Result<Prepared, EngineError> {
        let (arn, test_case) = split_test_case(&start.state_machine_arn);
        let resolved = self.resolve(&MachineRef::parse(arn)?).await?;
        let mock = self.mock_test_case_of(&resolved.machine.name, test_case)?;
        self.prepare_named(resolved, mock, start.name.as_deref())
    }

    /// The mock test case `stateMachineArn#TestCase` names, checked against the loaded
    /// MockConfigFile. Step Functions Local and LocalStack answer an unknown one with
    /// `InvalidName`, as here.
    fn mock_test_case_of(&self, machine: &str, case: Option<&str>) -> Result<Option<TestCaseRef>, EngineError> {
        let Some(case) = case else { return Ok(None) };
        let checked = match self.config().integrations.mocks() {
            Some(mocks) => mocks.config().test_case(machine, case).map(|_| ()),
            None => Err(UnknownTestCase::NoConfig { machine: machine.to_owned(), case: case.to_owned() }),
        };
        checked.map_err(|e| EngineError::InvalidName(e.to_string()))?;
        Ok(Some(TestCaseRef { state_machine: machine.to_owned(), test_case: case.to_owned() }))
    }

    /// What an Express execution runs with: every integration a Standard one reaches (the
    /// patterns AWS refuses for Express are refused when the machine is created).
    fn express(&self, prepared: &Prepared) -> Express {
        let config = self.config();
        Express {
            config: config.functions.clone(),
            integrations: config.integrations.clone(),
            machine: prepared.machine.name.clone(),
            name: prepared.name.clone(),
            mock: prepared.mock.clone(),
        }
    }

    /// StartExecution. An Express execution is fire-and-forget: it runs in memory and keeps
    /// no history. A Standard one is durable; starting it again by name is idempotent while
    /// it runs with the same input (its ARN and start are answered), else
    /// `ExecutionAlreadyExists`.
    pub async fn start_execution(&self, start: StartExecution) -> Result<StartedExecution, EngineError> {
        let prepared = self.prepare(&start).await?;
        let machine = &prepared.machine;
        if machine.kind == StateMachineType::Express {
            let arn = self.arns().express_execution(&machine.name, &prepared.name, &self.new_name());
            let begun = now_ms();
            let def = self.definition(&prepared.definition)?;
            let express = self.express(&prepared);
            let input = start.input.value;
            tokio::task::spawn_blocking(move || {
                run_local(&def, input, express.options());
            });
            return Ok(StartedExecution { arn, start: begun });
        }
        let arn = self.arns().execution(&machine.name, &prepared.name);
        let begun = now_ms();
        let row = ExecutionRow {
            arn: arn.as_str().to_owned(),
            state_machine_arn: machine.arn.clone(),
            name: prepared.name.clone(),
            status: ExecutionStatus::Running,
            input: start.input.text.clone(),
            output: None,
            error: None,
            cause: None,
            start: begun,
            stop: None,
            version_arn: prepared.version_arn.clone(),
            alias_arn: prepared.alias_arn.clone(),
            definition: prepared.definition.clone(),
            redrive_count: 0,
            redrive_date: None,
            parent: start.parent.as_ref().and_then(|p| serde_json::to_string(p).ok()),
            version: 0,
            started_by: start.started_by.clone(),
            mock_test_case: prepared.mock.as_ref().map(|m| m.test_case.clone()),
        };
        match self.run_new_execution(row, start.input.value, &machine.name, &prepared.role_arn).await {
            Ok(()) => Ok(StartedExecution { arn, start: begun }),
            Err(EngineError::ExecutionAlreadyExists(_)) => match self.store().get_execution(arn.as_str()).await? {
                Some(e) if e.status == ExecutionStatus::Running && e.input == start.input.text => {
                    Ok(StartedExecution { arn, start: e.start })
                }
                _ => Err(EngineError::ExecutionAlreadyExists(arn.into_string())),
            },
            Err(e) => Err(e),
        }
    }

    /// StartSyncExecution: an Express machine's execution, run to its end before answering.
    pub async fn start_sync_execution(&self, start: StartExecution) -> Result<SyncExecution, EngineError> {
        let (arn, test_case) = split_test_case(&start.state_machine_arn);
        let resolved = self.resolve(&MachineRef::parse(arn)?).await?;
        let mock = self.mock_test_case_of(&resolved.machine.name, test_case)?;
        if resolved.machine.kind != StateMachineType::Express {
            return Err(EngineError::StateMachineTypeNotSupported);
        }
        let prepared = self.prepare_named(resolved, mock, start.name.as_deref())?;
        let def = self.definition(&prepared.definition)?;
        let arn = self.arns().express_execution(&prepared.machine.name, &prepared.name, &self.new_name());
        let begun = now_ms();
        let express = self.express(&prepared);
        let input = start.input.value;
        let run = tokio::task::spawn_blocking(move || run_local(&def, input, express.options()))
            .await
            .map_err(|e| store::StoreError::Backend(e.to_string()))?;
        Ok(SyncExecution {
            arn,
            state_machine_arn: prepared.machine.arn,
            name: prepared.name,
            start: begun,
            stop: now_ms(),
            input: start.input.text,
            status: run.status().clone(),
        })
    }

    fn prepare_named(
        &self,
        resolved: crate::catalog::Resolved,
        mock: Option<TestCaseRef>,
        name: Option<&str>,
    ) -> Result<Prepared, EngineError> {
        let name = match name {
            Some(n) => {
                check_name(n)?;
                n.to_owned()
            }
            None => self.new_name(),
        };
        Ok(Prepared {
            machine: resolved.machine,
            definition: resolved.definition,
            role_arn: resolved.role_arn,
            version_arn: resolved.version_arn,
            alias_arn: resolved.alias_arn,
            mock,
            name,
        })
    }

    /// DescribeExecution: the execution's record.
    pub async fn describe_execution(&self, arn: &ExecutionArn) -> Result<ExecutionRow, EngineError> {
        self.store()
            .get_execution(arn.as_str())
            .await?
            .ok_or_else(|| EngineError::ExecutionDoesNotExist(arn.as_str().to_owned()))
    }

    /// DescribeStateMachineForExecution: the execution, and its machine unless deleted since.
    pub async fn state_machine_for_execution(
        &self,
        arn: &ExecutionArn,
    ) -> Result<(ExecutionRow, Option<StateMachineRow>), EngineError> {
        let row = self.describe_execution(arn).await?;
        let machine = self.store().get_state_machine(&row.state_machine_arn).await?;
        Ok((row, machine))
    }

    /// StopExecution: answers once the stop is applied (or queued behind a long step).
    pub async fn stop_execution(
        &self,
        arn: &ExecutionArn,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<Millis, EngineError> {
        self.describe_execution(arn).await?;
        self.request_stop(arn.as_str(), error, cause).await
    }

    /// RedriveExecution.
    pub async fn redrive_execution(&self, arn: &ExecutionArn) -> Result<Millis, EngineError> {
        self.describe_execution(arn).await?;
        self.redrive(arn.as_str()).await
    }

    /// ListExecutions of a machine, or of the version or alias it names. Executions of a
    /// machine deleted earlier under the same name share its ARN but are not this machine's;
    /// those of a version or alias are a subset: rows are read on until the page is full of
    /// matches, so a page never comes back short while more follow.
    pub async fn list_executions(&self, list: ListExecutions<'_>) -> Result<Page<ExecutionRow>, EngineError> {
        let machine = self.state_machine(list.machine.base_arn()).await?;
        if machine.kind == StateMachineType::Express {
            // Express executions keep no record to list (AWS points to CloudWatch Logs instead).
            return Err(EngineError::StateMachineTypeNotSupported);
        }
        if let Some(s) = list.status {
            if s.parse::<ExecutionStatus>().is_err() {
                return Err(EngineError::Validation(format!(
                    "1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint: \
                     Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"
                )));
            }
        }
        let filter_arn = match &list.machine {
            MachineRef::Base { .. } => None,
            MachineRef::Version { arn, .. } | MachineRef::Alias { arn, .. } => Some(arn.clone()),
        };
        let matches = |r: &ExecutionRow| {
            r.start >= machine.created
                && filter_arn
                    .as_ref()
                    .is_none_or(|f| r.version_arn.as_ref() == Some(f) || r.alias_arn.as_ref() == Some(f))
        };
        let limit = list.limit;
        let batch = (limit + 1).max(100);
        let mut cursor = list.after.map(str::to_owned);
        let mut rows: Vec<ExecutionRow> = Vec::with_capacity(limit + 1);
        'read: loop {
            let chunk =
                self.store().list_executions(list.machine.base_arn(), list.status, cursor.as_deref(), batch).await?;
            let exhausted = chunk.len() < batch;
            for r in chunk {
                cursor = Some(r.arn.clone());
                if matches(&r) {
                    rows.push(r);
                    if rows.len() > limit {
                        break 'read;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(Page::of_rows(rows, limit, |r| r.arn.clone()))
    }

    /// GetExecutionHistory: events as their AWS JSON text, by id, after the event `after`.
    pub async fn execution_history(
        &self,
        arn: &ExecutionArn,
        after: Option<i64>,
        limit: usize,
        reverse: bool,
    ) -> Result<Page<(i64, String)>, EngineError> {
        self.describe_execution(arn).await?;
        let rows = self.store().history(arn.as_str(), after, limit + 1, reverse).await?;
        Ok(Page::of_rows(rows, limit, |(id, _)| id.to_string()))
    }

    /// ListMapRuns: an execution's Map Runs, with its state machine's ARN.
    pub async fn list_map_runs(&self, arn: &ExecutionArn) -> Result<(String, Vec<MapRun>), EngineError> {
        let row = self.describe_execution(arn).await?;
        let runs = self.map_runs(arn.as_str()).await?;
        Ok((row.state_machine_arn, runs))
    }
}
