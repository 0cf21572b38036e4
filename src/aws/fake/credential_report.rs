//! The fake account's IAM credential report: the CSV IAM writes, column for column, so the
//! nominator reads the fake's report as it reads the real one.

use time::macros::{datetime, format_description};
use time::{OffsetDateTime, UtcOffset};

use super::{ACCOUNT, FakeUser};
use crate::domain::user::{AccessKey, KeyStatus};

/// The credential report's columns, as IAM writes them.
pub const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// Every `user_creation_time` in the report: nothing reads it.
const USER_CREATED: OffsetDateTime = datetime!(2020-01-01 00:00 UTC);
const NO_KEY: [&str; 5] = ["false", "N/A", "N/A", "N/A", "N/A"];
const NO_CERTS: [&str; 4] = ["false", "N/A", "false", "N/A"];

/// The report on the root account and these users.
pub(super) fn csv<'a>(users: impl IntoIterator<Item = &'a FakeUser>) -> Vec<u8> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut write = |row: Vec<String>| csv.write_record(row).expect("writes to a Vec");
    write(REPORT_HEADER.split(',').map(str::to_owned).collect());
    let (na, none) = ("not_supported", "no_information");
    let root = format!("arn:aws:iam::{ACCOUNT}:root");
    let root_password_and_mfa = [na, none, na, na, "true"];
    write(row(
        "<root_account>",
        root,
        root_password_and_mfa,
        [None, None],
    ));
    for user in users {
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/{}", user.user_name);
        let no_password_no_mfa = ["false", "N/A", "N/A", "N/A", "false"];
        // The report has two key slots: IAM allows no more keys than that.
        let keys = [user.keys.first(), user.keys.get(1)];
        write(row(&user.user_name, arn, no_password_no_mfa, keys));
    }
    csv.into_inner().expect("a Vec never fails to flush")
}

fn row(
    user: &str,
    arn: String,
    password_and_mfa: [&str; 5],
    keys: [Option<&AccessKey>; 2],
) -> Vec<String> {
    let mut row = vec![user.to_owned(), arn, report_date(USER_CREATED)];
    row.extend(password_and_mfa.map(str::to_owned));
    row.extend(keys.into_iter().flat_map(key_columns));
    row.extend(NO_CERTS.map(str::to_owned));
    row
}

fn key_columns(key: Option<&AccessKey>) -> [String; 5] {
    let Some(key) = key else {
        return NO_KEY.map(str::to_owned);
    };
    let (used, region, service) = match key.last_used {
        Some(used) => (report_date(used), "us-east-1", "iam"),
        None => ("N/A".to_owned(), "N/A", "N/A"),
    };
    let active = key.status == KeyStatus::Active;
    let (region, service) = (region.to_owned(), service.to_owned());
    [
        active.to_string(),
        report_date(key.created),
        used,
        region,
        service,
    ]
}

/// A report date as IAM writes it: UTC, whole seconds, `+00:00` rather than `Z`.
fn report_date(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    at.to_offset(UtcOffset::UTC)
        .format(format)
        .expect("a formattable date")
}
