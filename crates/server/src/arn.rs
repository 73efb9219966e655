//! Step Functions ARNs: building them in AWS's form and reading the ones clients send.

use crate::api::ApiError;

/// What a state machine ARN points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineRef {
    /// `...:stateMachine:NAME`
    Base { arn: String, name: String },
    /// `...:stateMachine:NAME:N`
    Version { base_arn: String, name: String, version: i64, arn: String },
    /// `...:stateMachine:NAME:ALIAS`
    Alias { base_arn: String, name: String, alias: String, arn: String },
}

impl MachineRef {
    pub fn base_arn(&self) -> &str {
        match self {
            MachineRef::Base { arn, .. } => arn,
            MachineRef::Version { base_arn, .. } | MachineRef::Alias { base_arn, .. } => base_arn,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            MachineRef::Base { name, .. } | MachineRef::Version { name, .. } | MachineRef::Alias { name, .. } => name,
        }
    }
}

/// The `arn:PARTITION:states:REGION:ACCOUNT:` prefix and the rest, split on `:`.
fn split(arn: &str) -> Option<(String, Vec<&str>)> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" || parts[2] != "states" || parts[1].is_empty() {
        return None;
    }
    Some((parts[..5].join(":"), parts[5..].to_vec()))
}

pub fn parse_machine(arn: &str) -> Result<MachineRef, ApiError> {
    let (prefix, rest) = split(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    if rest[0] != "stateMachine" {
        return Err(ApiError::new(
            "InvalidArn",
            format!("Invalid Arn: 'Resource type not valid in this context: {}'", rest[0]),
        ));
    }
    let name = rest[1];
    if name.is_empty() || name.contains('/') {
        return Err(ApiError::invalid_arn(arn));
    }
    let base_arn = format!("{prefix}:stateMachine:{name}");
    match rest.get(2) {
        None => Ok(MachineRef::Base { arn: base_arn, name: name.to_owned() }),
        Some(q) if rest.len() == 3 && !q.is_empty() => match q.parse::<i64>() {
            Ok(version) => Ok(MachineRef::Version { base_arn, name: name.to_owned(), version, arn: arn.to_owned() }),
            Err(_) => {
                Ok(MachineRef::Alias { base_arn, name: name.to_owned(), alias: (*q).to_owned(), arn: arn.to_owned() })
            }
        },
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

/// Check an execution ARN; Express execution ARNs are refused, as AWS does outside the APIs
/// that take them.
pub fn check_execution(arn: &str) -> Result<(), ApiError> {
    let (_, rest) = split(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    match rest[0] {
        "execution" if rest.len() == 3 && !rest[1].is_empty() && !rest[2].is_empty() => Ok(()),
        "express" => {
            Err(ApiError::new("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: express'"))
        }
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

pub fn check_activity(arn: &str) -> Result<(), ApiError> {
    let (_, rest) = split(arn).ok_or_else(|| ApiError::invalid_arn(arn))?;
    if rest[0] == "activity" && rest.len() == 2 && !rest[1].is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_arn(arn))
    }
}

/// Builds ARNs for this server's region and account.
#[derive(Debug, Clone)]
pub struct Arns {
    pub region: String,
    pub account: String,
}

impl Arns {
    fn prefix(&self) -> String {
        format!("arn:aws:states:{}:{}", self.region, self.account)
    }

    pub fn state_machine(&self, name: &str) -> String {
        format!("{}:stateMachine:{name}", self.prefix())
    }

    pub fn execution(&self, machine: &str, name: &str) -> String {
        format!("{}:execution:{machine}:{name}", self.prefix())
    }

    pub fn express_execution(&self, machine: &str, name: &str, id: &str) -> String {
        format!("{}:express:{machine}:{name}:{id}", self.prefix())
    }

    pub fn activity(&self, name: &str) -> String {
        format!("{}:activity:{name}", self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_arns_distinguish_versions_and_aliases() {
        let base = "arn:aws:states:us-east-1:123456789012:stateMachine:orders";
        assert!(matches!(parse_machine(base), Ok(MachineRef::Base { .. })));
        assert!(matches!(parse_machine(&format!("{base}:3")), Ok(MachineRef::Version { version: 3, .. })));
        assert!(matches!(parse_machine(&format!("{base}:prod")), Ok(MachineRef::Alias { .. })));
        assert_eq!(parse_machine(&format!("{base}:prod")).map(|m| m.base_arn().to_owned()).ok().as_deref(), Some(base));
        for bad in ["orders", "arn:aws:states:us-east-1:1:activity:a", "arn:aws:lambda:us-east-1:1:function:f"] {
            assert!(parse_machine(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn express_execution_arns_are_refused() {
        assert!(check_execution("arn:aws:states:us-east-1:1:execution:m:e").is_ok());
        let e = check_execution("arn:aws:states:us-east-1:1:express:m:e:id").unwrap_err();
        assert_eq!(e.code, "InvalidArn");
    }
}
