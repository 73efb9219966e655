//! The catalog: state machines, their versions and aliases, activities, tags and Map Runs.
//! What the API's Create/Describe/List/Delete actions keep; no execution's progress.

use async_trait::async_trait;

use crate::sql::{already, named, run, sql, Access, Backend, Conn, ReadRow};
use crate::{ActivityRow, AliasRow, MapRunRow, Result, StateMachineRow, StoreError, VersionRow};

#[async_trait]
pub trait Catalog: Send + Sync {
    // --- state machines, versions, aliases -------------------------------------------------
    async fn insert_state_machine(&self, row: &StateMachineRow) -> Result<()>;
    async fn update_state_machine(&self, row: &StateMachineRow) -> Result<()>;
    async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRow>>;
    async fn delete_state_machine(&self, arn: &str) -> Result<bool>;
    /// Ordered by ARN, starting after `after`.
    async fn list_state_machines(&self, after: Option<&str>, limit: usize) -> Result<Vec<StateMachineRow>>;

    async fn insert_version(&self, row: &VersionRow) -> Result<()>;
    async fn get_version(&self, arn: &str) -> Result<Option<VersionRow>>;
    async fn delete_version(&self, arn: &str) -> Result<bool>;
    /// Newest first.
    async fn list_versions(&self, state_machine_arn: &str) -> Result<Vec<VersionRow>>;

    async fn insert_alias(&self, row: &AliasRow) -> Result<()>;
    async fn update_alias(&self, row: &AliasRow) -> Result<()>;
    async fn get_alias(&self, arn: &str) -> Result<Option<AliasRow>>;
    async fn delete_alias(&self, arn: &str) -> Result<bool>;
    async fn list_aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRow>>;

    // --- activities and tags ---------------------------------------------------------------
    async fn insert_activity(&self, row: &ActivityRow) -> Result<()>;
    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRow>>;
    async fn delete_activity(&self, arn: &str) -> Result<bool>;
    async fn list_activities(&self, after: Option<&str>, limit: usize) -> Result<Vec<ActivityRow>>;

    async fn tag(&self, resource_arn: &str, tags: &[(String, String)]) -> Result<()>;
    async fn untag(&self, resource_arn: &str, keys: &[String]) -> Result<()>;
    async fn tags(&self, resource_arn: &str) -> Result<Vec<(String, String)>>;

    // --- map runs ----------------------------------------------------------------------------
    /// Insert or replace Map Runs (by ARN).
    async fn put_map_runs(&self, rows: &[MapRunRow]) -> Result<()>;
    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRow>>;
    /// An execution's Map Runs, oldest first.
    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRow>>;
}

fn state_machine(r: &dyn ReadRow) -> Result<StateMachineRow> {
    Ok(StateMachineRow {
        arn: r.text(0)?,
        name: r.text(1)?,
        definition: r.text(2)?,
        role_arn: r.text(3)?,
        kind: named(r, 4)?,
        created: r.int(5)?,
        updated: r.int(6)?,
        revision_id: r.text(7)?,
        description: r.opt_text(8)?,
        config: r.text(9)?,
    })
}

fn version(r: &dyn ReadRow) -> Result<VersionRow> {
    Ok(VersionRow {
        arn: r.text(0)?,
        state_machine_arn: r.text(1)?,
        version: r.int(2)?,
        definition: r.text(3)?,
        role_arn: r.text(4)?,
        revision_id: r.text(5)?,
        description: r.opt_text(6)?,
        created: r.int(7)?,
    })
}

fn alias(r: &dyn ReadRow) -> Result<AliasRow> {
    Ok(AliasRow {
        arn: r.text(0)?,
        state_machine_arn: r.text(1)?,
        name: r.text(2)?,
        description: r.opt_text(3)?,
        routing: r.text(4)?,
        created: r.int(5)?,
        updated: r.int(6)?,
    })
}

fn activity(r: &dyn ReadRow) -> Result<ActivityRow> {
    Ok(ActivityRow { arn: r.text(0)?, name: r.text(1)?, created: r.int(2)? })
}

fn map_run(r: &dyn ReadRow) -> Result<MapRunRow> {
    Ok(MapRunRow { arn: r.text(0)?, execution_arn: r.text(1)?, start: r.int(2)?, record: r.text(3)? })
}

fn key_value(r: &dyn ReadRow) -> Result<(String, String)> {
    Ok((r.text(0)?, r.text(1)?))
}

/// Run one statement that changes rows; whether it changed any.
async fn changed(c: &mut impl Conn, statement: &'static crate::sql::Sql, arn: &str) -> Result<bool> {
    Ok(c.execute(statement, &[&arn]).await? > 0)
}

#[async_trait]
impl<B: Backend> Catalog for B {
    async fn insert_state_machine(&self, row: &StateMachineRow) -> Result<()> {
        run!(self, Access::Write, row, |c, r| {
            let statement =
                sql!("INSERT INTO state_machines ({SM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
            let kind = r.kind.as_str();
            let params: [&dyn crate::sql::Param; 10] = [
                &r.arn,
                &r.name,
                &r.definition,
                &r.role_arn,
                &kind,
                &r.created,
                &r.updated,
                &r.revision_id,
                &r.description,
                &r.config,
            ];
            c.execute(statement, &params).await.map_err(already(&r.arn))?;
            Ok(())
        })
    }

    async fn update_state_machine(&self, row: &StateMachineRow) -> Result<()> {
        run!(self, Access::Write, row, |c, r| {
            let statement = sql!(
                "UPDATE state_machines SET definition = ?2, role_arn = ?3, updated = ?4, revision_id = ?5, \
                 description = ?6, config = ?7 WHERE arn = ?1"
            );
            let n = c
                .execute(
                    statement,
                    &[&r.arn, &r.definition, &r.role_arn, &r.updated, &r.revision_id, &r.description, &r.config],
                )
                .await?;
            if n == 0 {
                return Err(StoreError::NotFound(r.arn.clone()));
            }
            Ok(())
        })
    }

    async fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRow>> {
        run!(self, Access::Read, arn, |c, arn| {
            c.query_opt(sql!("SELECT {SM_COLS} FROM state_machines WHERE arn = ?1"), &[&arn], state_machine).await
        })
    }

    async fn delete_state_machine(&self, arn: &str) -> Result<bool> {
        run!(self, Access::Write, arn, |c, arn| {
            c.begin().await?;
            let deleted = changed(c, sql!("DELETE FROM state_machines WHERE arn = ?1"), arn).await?;
            c.execute(sql!("DELETE FROM versions WHERE state_machine_arn = ?1"), &[&arn]).await?;
            c.execute(sql!("DELETE FROM aliases WHERE state_machine_arn = ?1"), &[&arn]).await?;
            c.execute(sql!("DELETE FROM tags WHERE resource_arn = ?1"), &[&arn]).await?;
            c.commit().await?;
            Ok(deleted)
        })
    }

    async fn list_state_machines(&self, after: Option<&str>, limit: usize) -> Result<Vec<StateMachineRow>> {
        let limit = limit as i64;
        run!(self, Access::Read, after.unwrap_or(""), |c, after| {
            c.query(
                sql!("SELECT {SM_COLS} FROM state_machines WHERE arn > ?1 ORDER BY arn LIMIT ?2"),
                &[&after, &limit],
                state_machine,
            )
            .await
        })
    }

    async fn insert_version(&self, row: &VersionRow) -> Result<()> {
        run!(self, Access::Write, row, |c, r| {
            let statement = sql!("INSERT INTO versions ({VERSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            let params: [&dyn crate::sql::Param; 8] = [
                &r.arn,
                &r.state_machine_arn,
                &r.version,
                &r.definition,
                &r.role_arn,
                &r.revision_id,
                &r.description,
                &r.created,
            ];
            c.execute(statement, &params).await.map_err(already(&r.arn))?;
            Ok(())
        })
    }

    async fn get_version(&self, arn: &str) -> Result<Option<VersionRow>> {
        run!(self, Access::Read, arn, |c, arn| {
            c.query_opt(sql!("SELECT {VERSION_COLS} FROM versions WHERE arn = ?1"), &[&arn], version).await
        })
    }

    async fn delete_version(&self, arn: &str) -> Result<bool> {
        run!(self, Access::Write, arn, |c, arn| changed(c, sql!("DELETE FROM versions WHERE arn = ?1"), arn).await)
    }

    async fn list_versions(&self, state_machine_arn: &str) -> Result<Vec<VersionRow>> {
        run!(self, Access::Read, state_machine_arn, |c, sm| {
            c.query(
                sql!("SELECT {VERSION_COLS} FROM versions WHERE state_machine_arn = ?1 ORDER BY version DESC"),
                &[&sm],
                version,
            )
            .await
        })
    }

    async fn insert_alias(&self, row: &AliasRow) -> Result<()> {
        run!(self, Access::Write, row, |c, r| {
            let statement = sql!("INSERT INTO aliases ({ALIAS_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
            c.execute(
                statement,
                &[&r.arn, &r.state_machine_arn, &r.name, &r.description, &r.routing, &r.created, &r.updated],
            )
            .await
            .map_err(already(&r.arn))?;
            Ok(())
        })
    }

    async fn update_alias(&self, row: &AliasRow) -> Result<()> {
        run!(self, Access::Write, row, |c, r| {
            let statement = sql!("UPDATE aliases SET description = ?2, routing = ?3, updated = ?4 WHERE arn = ?1");
            c.execute(statement, &[&r.arn, &r.description, &r.routing, &r.updated]).await?;
            Ok(())
        })
    }

    async fn get_alias(&self, arn: &str) -> Result<Option<AliasRow>> {
        run!(self, Access::Read, arn, |c, arn| {
            c.query_opt(sql!("SELECT {ALIAS_COLS} FROM aliases WHERE arn = ?1"), &[&arn], alias).await
        })
    }

    async fn delete_alias(&self, arn: &str) -> Result<bool> {
        run!(self, Access::Write, arn, |c, arn| changed(c, sql!("DELETE FROM aliases WHERE arn = ?1"), arn).await)
    }

    async fn list_aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRow>> {
        run!(self, Access::Read, state_machine_arn, |c, sm| {
            c.query(
                sql!("SELECT {ALIAS_COLS} FROM aliases WHERE state_machine_arn = ?1 ORDER BY created"),
                &[&sm],
                alias,
            )
            .await
        })
    }

    async fn insert_activity(&self, row: &ActivityRow) -> Result<()> {
        run!(self, Access::Write, row, |c, r| {
            c.execute(
                sql!("INSERT INTO activities (arn, name, created) VALUES (?1, ?2, ?3)"),
                &[&r.arn, &r.name, &r.created],
            )
            .await
            .map_err(already(&r.arn))?;
            Ok(())
        })
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<ActivityRow>> {
        run!(self, Access::Read, arn, |c, arn| {
            c.query_opt(sql!("SELECT arn, name, created FROM activities WHERE arn = ?1"), &[&arn], activity).await
        })
    }

    async fn delete_activity(&self, arn: &str) -> Result<bool> {
        run!(self, Access::Write, arn, |c, arn| {
            let deleted = changed(c, sql!("DELETE FROM activities WHERE arn = ?1"), arn).await?;
            c.execute(sql!("DELETE FROM tags WHERE resource_arn = ?1"), &[&arn]).await?;
            Ok(deleted)
        })
    }

    async fn list_activities(&self, after: Option<&str>, limit: usize) -> Result<Vec<ActivityRow>> {
        let limit = limit as i64;
        run!(self, Access::Read, after.unwrap_or(""), |c, after| {
            c.query(
                sql!("SELECT arn, name, created FROM activities WHERE arn > ?1 ORDER BY arn LIMIT ?2"),
                &[&after, &limit],
                activity,
            )
            .await
        })
    }

    async fn tag(&self, resource_arn: &str, tags: &[(String, String)]) -> Result<()> {
        let arn = resource_arn.to_owned();
        run!(self, Access::Write, tags, |c, tags| {
            c.begin().await?;
            for (k, v) in tags {
                let statement = sql!(
                    "INSERT INTO tags (resource_arn, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value"
                );
                c.execute(statement, &[&arn, k, v]).await?;
            }
            c.commit().await
        })
    }

    async fn untag(&self, resource_arn: &str, keys: &[String]) -> Result<()> {
        let arn = resource_arn.to_owned();
        run!(self, Access::Write, keys, |c, keys| {
            c.begin().await?;
            for k in keys {
                c.execute(sql!("DELETE FROM tags WHERE resource_arn = ?1 AND key = ?2"), &[&arn, k]).await?;
            }
            c.commit().await
        })
    }

    async fn tags(&self, resource_arn: &str) -> Result<Vec<(String, String)>> {
        run!(self, Access::Read, resource_arn, |c, arn| {
            c.query(sql!("SELECT key, value FROM tags WHERE resource_arn = ?1 ORDER BY key"), &[&arn], key_value).await
        })
    }

    async fn put_map_runs(&self, rows: &[MapRunRow]) -> Result<()> {
        run!(self, Access::Write, rows, |c, rows| {
            c.begin().await?;
            for r in rows {
                let statement = sql!(
                    "INSERT INTO map_runs (arn, execution_arn, start, record) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (arn) DO UPDATE SET record = excluded.record"
                );
                c.execute(statement, &[&r.arn, &r.execution_arn, &r.start, &r.record]).await?;
            }
            c.commit().await
        })
    }

    async fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRow>> {
        run!(self, Access::Read, arn, |c, arn| {
            c.query_opt(sql!("SELECT arn, execution_arn, start, record FROM map_runs WHERE arn = ?1"), &[&arn], map_run)
                .await
        })
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRunRow>> {
        run!(self, Access::Read, execution_arn, |c, arn| {
            let statement = sql!(
                "SELECT arn, execution_arn, start, record FROM map_runs WHERE execution_arn = ?1 ORDER BY start, arn"
            );
            c.query(statement, &[&arn], map_run).await
        })
    }
}
