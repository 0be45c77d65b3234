//! `gridsync-server admin …`: users and devices from the command line,
//! with tables readable in Chinese and English.

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};
use gridsync_core::contact::Post;

use super::{ChangeUser, CreateUser, change_user, create_user, find_user, revoke_device, table};
use crate::directory::{Department, Device, User};
use crate::principal::Role;
use crate::state::AppState;

/// `admin` options.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// What to manage.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// What `admin` manages.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Users (用户).
    #[command(subcommand)]
    User(UserCommand),
    /// Devices (设备).
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Functional departments (职能部门).
    #[command(subcommand)]
    Department(DepartmentCommand),
    /// The 12345 hotline's platform credentials and failing webhook calls.
    #[command(subcommand)]
    Hotline(crate::hotline::cli::HotlineCommand),
}

/// `admin department …`.
#[derive(Debug, Subcommand)]
pub enum DepartmentCommand {
    /// Create a department, or rename it if the code exists.
    Add {
        /// Code: lowercase letters, digits, `_` (e.g. chengguan).
        #[arg(long)]
        code: String,
        /// Name shown to people (e.g. 区城管执法局).
        #[arg(long)]
        name: String,
    },
    /// List departments.
    List,
}

/// Where a password comes from; generated when neither is given.
#[derive(Debug, Clone, Args)]
pub struct PasswordSource {
    /// The password (visible in the shell history and process list: prefer
    /// --password-stdin).
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordSource {
    /// The password given, or None to generate one.
    fn read(&self) -> anyhow::Result<Option<String>> {
        if let Some(p) = &self.password {
            return Ok(Some(p.clone()));
        }
        if !self.password_stdin {
            return Ok(None);
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(
            !password.is_empty(),
            "标准输入中没有密码 / no password on standard input"
        );
        Ok(Some(password))
    }
}

/// `admin user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints a generated password once if none is given.
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Name shown to people (姓名).
        #[arg(long)]
        name: String,
        /// grid_worker 网格员, package_holder 包保责任人, supervisor 社区/街道管理员, department 职能部门, admin 系统管理员, building_head 楼栋长, unit_head 单元长.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Grid codes, comma-separated (grid workers).
        #[arg(long, value_delimiter = ',')]
        grids: Vec<String>,
        /// Community (12-digit) or street (9-digit) code (supervisors).
        #[arg(long)]
        subtree: Option<String>,
        /// Department code (department users; see `admin department list`).
        #[arg(long)]
        department: Option<String>,
        /// The building or unit a 楼栋长/单元长 serves, as
        /// `<grid code>/<小区>/<楼栋>[/<单元>]`, e.g. `110105001001001/幸福小区/3号楼/2单元`.
        #[arg(long)]
        post: Option<String>,
        /// The password.
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List users.
    List,
    /// Show one user and their devices.
    Show {
        /// Username.
        username: String,
    },
    /// Set a user's password (ends their sessions); prints a generated one if none is given.
    SetPassword {
        /// Username.
        username: String,
        /// The password.
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Stop a user from signing in (ends their sessions at once).
    Deactivate {
        /// Username.
        username: String,
    },
    /// Let a deactivated user sign in again.
    Activate {
        /// Username.
        username: String,
    },
    /// Replace a grid worker's grids.
    Grids {
        /// Username.
        username: String,
        /// Grid codes, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        grids: Vec<String>,
    },
    /// Change a user's role (and the grids or subtree the new role needs).
    SetRole {
        /// Username.
        username: String,
        /// The new role.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Grid codes, comma-separated (grid workers).
        #[arg(long, value_delimiter = ',')]
        grids: Vec<String>,
        /// Community or street code (supervisors).
        #[arg(long)]
        subtree: Option<String>,
        /// Department code (department users).
        #[arg(long)]
        department: Option<String>,
    },
}

/// `admin device …`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List devices.
    List {
        /// Only this user's devices (username).
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a device: its tokens stop working on the next request.
    Revoke {
        /// Device id (UUID).
        device_id: String,
    },
}

/// A role from its code or Chinese name.
fn parse_role(s: &str) -> Result<Role, String> {
    const ALL: [Role; 5] = [
        Role::GridWorker,
        Role::PackageHolder,
        Role::Supervisor,
        Role::Department,
        Role::Admin,
    ];
    Role::from_code(s)
        .or_else(|| ALL.into_iter().find(|r| r.name_zh() == s))
        .ok_or_else(|| {
            let known: Vec<String> = ALL
                .iter()
                .map(|r| format!("{} ({})", r.code(), r.name_zh()))
                .collect();
            format!("未知角色 / unknown role; one of: {}", known.join(", "))
        })
}

/// Run `admin …`.
pub async fn run_cli(state: &AppState, args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::User(cmd) => user(state, cmd).await,
        AdminCommand::Device(cmd) => device(state, cmd).await,
        AdminCommand::Department(cmd) => department(state, cmd).await,
        AdminCommand::Hotline(cmd) => crate::hotline::cli::run(state, cmd).await,
    }
}

async fn department(state: &AppState, cmd: DepartmentCommand) -> anyhow::Result<()> {
    let departments = match cmd {
        DepartmentCommand::Add { code, name } => {
            let d = state
                .directory
                .upsert_department(Department { code, name })
                .await
                .map_err(anyhow_directory)?;
            println!("已保存部门 / department saved");
            vec![d]
        }
        DepartmentCommand::List => state.directory.departments().await?,
    };
    if departments.is_empty() {
        println!("还没有部门 / no departments yet (admin department add …)");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = departments
        .into_iter()
        .map(|d| vec![d.code, d.name])
        .collect();
    print!("{}", table(&["编码 code", "名称 name"], &rows));
    Ok(())
}

fn anyhow_directory(e: crate::directory::DirectoryError) -> anyhow::Error {
    match e {
        crate::directory::DirectoryError::Invalid { reason, .. } => {
            anyhow::anyhow!("{} / {}", reason.zh, reason.en)
        }
        other => other.into(),
    }
}

async fn user(state: &AppState, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            username,
            name,
            role,
            grids,
            subtree,
            department,
            post,
            password,
        } => {
            let created = create_user(
                state,
                CreateUser {
                    username,
                    display_name: name,
                    role,
                    grids,
                    subtree,
                    department,
                    post: post
                        .as_deref()
                        .map(parse_post)
                        .transpose()
                        .map_err(anyhow::Error::msg)?,
                    password: password.read()?,
                },
            )
            .await?;
            println!("已创建用户 / user created");
            print!("{}", users_table(std::slice::from_ref(&created.user)));
            if let Some(p) = created.generated_password {
                print_generated_password(&p);
            }
        }
        UserCommand::List => {
            let users = state.directory.users().await?;
            if users.is_empty() {
                println!("还没有用户 / no users yet (admin user add …)");
            } else {
                print!("{}", users_table(&users));
            }
        }
        UserCommand::Show { username } => {
            let user = find_user(state, &username).await?;
            print!("{}", users_table(std::slice::from_ref(&user)));
            let devices = state.directory.devices(Some(&user.id)).await?;
            println!();
            if devices.is_empty() {
                println!("没有登记的设备 / no devices registered");
            } else {
                print!("{}", devices_table(&devices));
            }
        }
        UserCommand::SetPassword { username, password } => {
            let user = find_user(state, &username).await?;
            let given = password.read()?;
            let generated = given.is_none();
            let password = given.unwrap_or_else(crate::auth::generate_password);
            change(
                state,
                &user,
                ChangeUser {
                    password: Some(password.clone()),
                    ..ChangeUser::default()
                },
            )
            .await?;
            println!(
                "密码已更新，该用户的登录已全部失效 / password set; the user's sessions were ended"
            );
            if generated {
                print_generated_password(&password);
            }
        }
        UserCommand::Deactivate { username } => {
            let user = find_user(state, &username).await?;
            let user = change(
                state,
                &user,
                ChangeUser {
                    active: Some(false),
                    ..ChangeUser::default()
                },
            )
            .await?;
            println!(
                "已停用，该用户的登录已全部失效 / deactivated; the user's sessions were ended"
            );
            print!("{}", users_table(&[user]));
        }
        UserCommand::Activate { username } => {
            let user = find_user(state, &username).await?;
            let user = change(
                state,
                &user,
                ChangeUser {
                    active: Some(true),
                    ..ChangeUser::default()
                },
            )
            .await?;
            println!("已启用 / activated");
            print!("{}", users_table(&[user]));
        }
        UserCommand::Grids { username, grids } => {
            let user = find_user(state, &username).await?;
            let user = change(
                state,
                &user,
                ChangeUser {
                    grids: Some(grids),
                    ..ChangeUser::default()
                },
            )
            .await?;
            println!("网格已更新 / grids updated");
            print!("{}", users_table(&[user]));
        }
        UserCommand::SetRole {
            username,
            role,
            grids,
            subtree,
            department,
        } => {
            let user = find_user(state, &username).await?;
            let user = change(
                state,
                &user,
                ChangeUser {
                    role: Some(role),
                    grids: (!grids.is_empty()).then_some(grids),
                    subtree: subtree.map(Some),
                    department: department.map(Some),
                    ..ChangeUser::default()
                },
            )
            .await?;
            println!("角色已更新 / role updated");
            print!("{}", users_table(&[user]));
        }
    }
    Ok(())
}

async fn change(state: &AppState, user: &User, req: ChangeUser) -> anyhow::Result<User> {
    Ok(change_user(state, None, &user.id, req).await?)
}

fn print_generated_password(password: &str) {
    println!();
    println!("初始密码（只显示这一次，请妥善转交）/ initial password (shown only this once):");
    println!("  {password}");
}

async fn device(state: &AppState, cmd: DeviceCommand) -> anyhow::Result<()> {
    match cmd {
        DeviceCommand::List { user } => {
            let user_id = match user {
                Some(u) => Some(find_user(state, &u).await?.id),
                None => None,
            };
            let devices = state.directory.devices(user_id.as_deref()).await?;
            if devices.is_empty() {
                println!("没有登记的设备 / no devices registered");
            } else {
                print!("{}", devices_table(&devices));
            }
        }
        DeviceCommand::Revoke { device_id } => {
            let device = revoke_device(state, &device_id).await?;
            println!(
                "设备已停用，其登录已失效 / device revoked; its tokens stop working on the next request"
            );
            print!("{}", devices_table(&[device]));
        }
    }
    Ok(())
}

/// `<grid>/<小区>/<楼栋>[/<单元>]` as a post.
fn parse_post(s: &str) -> Result<Post, String> {
    let parts: Vec<&str> = s.split('/').map(str::trim).collect();
    match parts.as_slice() {
        [grid, compound, building] | [grid, compound, building, ""] => Ok(Post {
            grid: (*grid).to_owned(),
            compound: (*compound).to_owned(),
            building: (*building).to_owned(),
            unit: String::new(),
        }),
        [grid, compound, building, unit] => Ok(Post {
            grid: (*grid).to_owned(),
            compound: (*compound).to_owned(),
            building: (*building).to_owned(),
            unit: (*unit).to_owned(),
        }),
        _ => Err(
            "应为 网格编码/小区/楼栋[/单元] / expected <grid>/<compound>/<building>[/<unit>]"
                .into(),
        ),
    }
}

fn users_table(users: &[User]) -> String {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            let scope = match (&u.subtree, &u.department, &u.post, u.grids.is_empty()) {
                (Some(s), _, _, _) => s.clone(),
                (None, Some(d), _, _) => d.clone(),
                (None, None, Some(p), _) => format!("{} {}", p.grid, p.describe()),
                (None, None, None, false) => u.grids.join(","),
                (None, None, None, true) => "-".to_owned(),
            };
            vec![
                u.username.clone(),
                u.display_name.clone(),
                format!("{} {}", u.role.name_zh(), u.role.code()),
                if u.active {
                    "启用 active"
                } else {
                    "停用 inactive"
                }
                .to_owned(),
                scope,
                u.id.clone(),
            ]
        })
        .collect();
    table(
        &[
            "用户名 username",
            "姓名 name",
            "角色 role",
            "状态 status",
            "网格/辖区/部门 grids/subtree/department",
            "编号 id",
        ],
        &rows,
    )
}

fn devices_table(devices: &[Device]) -> String {
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            vec![
                d.id.clone(),
                d.username.clone(),
                d.name.clone().unwrap_or_else(|| "-".to_owned()),
                beijing_time(d.registered_at),
                beijing_time(d.last_seen_at),
                match d.revoked_at {
                    Some(t) => format!("已停用 revoked {}", beijing_time(t)),
                    None => "正常 active".to_owned(),
                },
            ]
        })
        .collect();
    table(
        &[
            "设备 device",
            "用户 user",
            "名称 name",
            "登记 registered",
            "最近 last seen",
            "状态 status",
        ],
        &rows,
    )
}

/// Unix seconds as Beijing time (UTC+8), to the minute.
fn beijing_time(t: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .map(|d| d.to_offset(time::macros::offset!(+8)))
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_else(|| t.to_string())
}
