//! Activities: queues of work for outside workers. CreateActivity (idempotent by name),
//! DescribeActivity, DeleteActivity, ListActivities, and GetActivityTask's check that the
//! activity exists before its long poll.

use std::time::Duration;

use store::StoreError;

use super::{check_name, ActivityRow, Tags};
use crate::arn::check_activity;
use crate::clock::now_ms;
use crate::error::EngineError;
use crate::page::Page;
use crate::service::{ActivityTask, Engine};

impl Engine {
    async fn load_activity(&self, arn: &str) -> Result<ActivityRow, EngineError> {
        check_activity(arn)?;
        self.store().get_activity(arn).await?.ok_or_else(|| EngineError::ActivityDoesNotExist(arn.to_owned()))
    }

    /// CreateActivity: creating one that exists answers it as it is (tags given then are
    /// not applied).
    pub async fn create_activity(&self, name: &str, tags: Option<Tags>) -> Result<ActivityRow, EngineError> {
        check_name(name)?;
        let arn = self.arns().activity(name);
        let row = ActivityRow { arn: arn.clone(), name: name.to_owned(), created: now_ms() };
        match self.store().insert_activity(&row).await {
            Ok(()) => {
                if let Some(tags) = tags {
                    self.add_tags(&arn, tags).await?;
                }
                Ok(row)
            }
            Err(StoreError::AlreadyExists(_)) => Ok(self.store().get_activity(&arn).await?.unwrap_or(row)),
            Err(e) => Err(e.into()),
        }
    }

    /// DescribeActivity.
    pub async fn describe_activity(&self, arn: &str) -> Result<ActivityRow, EngineError> {
        self.load_activity(arn).await
    }

    /// DeleteActivity (one that does not exist is deleted already).
    pub async fn delete_activity(&self, arn: &str) -> Result<(), EngineError> {
        check_activity(arn)?;
        self.store().delete_activity(arn).await?;
        Ok(())
    }

    /// ListActivities, in ARN order.
    pub async fn list_activities(&self, after: Option<&str>, limit: usize) -> Result<Page<ActivityRow>, EngineError> {
        let rows = self.store().list_activities(after, limit + 1).await?;
        Ok(Page::of_rows(rows, limit, |a| a.arn.clone()))
    }

    /// GetActivityTask: the oldest queued task of an existing activity, handed to this
    /// worker, or `None` when none comes within `wait`.
    pub async fn get_activity_task(
        &self,
        arn: &str,
        worker: Option<&str>,
        wait: Duration,
    ) -> Result<Option<ActivityTask>, EngineError> {
        self.load_activity(arn).await?;
        self.poll_activity_task(arn, worker, wait).await
    }
}
