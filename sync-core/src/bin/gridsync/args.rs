//! The command line: every command and flag, as clap derive types. Only
//! parsing lives here; what a command does is in the other modules.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// gridsync 命令行客户端：离线登记住户、居民和走访，联网后同步。
/// The gridsync command-line client: record households, residents and visits
/// offline, sync when online.
#[derive(Debug, Parser)]
#[command(name = "gridsync", version, propagate_version = true)]
pub(crate) struct Cli {
    /// 本机数据库文件 / the device store file
    #[arg(
        long,
        global = true,
        env = "GRIDSYNC_STORE",
        default_value = "gridsync-device.sqlite3"
    )]
    pub(crate) store: PathBuf,

    /// 输出 JSON 而不是表格 / print JSON instead of tables
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// 登录服务器 / sign in to a server
    Login(LoginArgs),
    /// 退出登录（本机数据保留） / sign out (the data stays on this device)
    Logout,
    /// 当前登录的用户 / who is signed in
    Whoami,
    /// 与服务器同步 / sync with the server
    Sync,
    /// 同步状态、冲突和疑似重复 / sync status, conflicts and duplicates
    Status,
    /// 网格 / grids
    #[command(subcommand)]
    Grid(GridCommand),
    /// 住户 / households
    #[command(subcommand)]
    Household(HouseholdCommand),
    /// 居民 / residents
    #[command(subcommand)]
    Resident(ResidentCommand),
    /// 走访记录 / visits
    #[command(subcommand)]
    Visit(VisitCommand),
    /// 事件（上报、列表、详情、办理步骤、照片） / issue reports: report,
    /// list, show, take a step, attach photos
    #[command(subcommand)]
    Issue(IssueCommand),
    /// 楼栋名册（楼栋长、单元长；姓名电话已脱敏） / the masked roster of a
    /// building or unit head's building
    Roster,
    /// 楼栋长、单元长的联系记录 / a building or unit head's contacts
    #[command(subcommand)]
    Contact(ContactCommand),
    /// 超过若干天未走访的住户 / households not visited for some days
    NotVisited {
        /// 天数 / days
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// 包保责任人超过若干天未联系的住户 / households their package-holder has
    /// not contacted for some days
    NotContacted {
        /// 天数 / days
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// 只看该包保责任人（用户编号） / only this package-holder (user id)
        #[arg(long)]
        holder: Option<String>,
    },
    /// 字段冲突（不给编号则检查全部记录） / field conflicts (all documents
    /// when no id is given)
    Conflicts {
        /// 记录编号 / document id
        doc_id: Option<String>,
    },
    /// 选定冲突字段的取值 / resolve a conflict by choosing a value
    Resolve {
        /// 记录编号 / document id
        doc_id: String,
        /// 字段路径，如 residents/<居民编号>/phone / field path
        #[arg(long)]
        path: String,
        /// 选第几个值（见 conflicts 的序号） / the value's number, as listed
        /// by `conflicts`
        #[arg(long)]
        choose: usize,
    },
    /// 疑似重复的住户和居民 / suspected duplicate households and residents
    Duplicates,
    /// 合并两户重复住户 / merge two households that are the same one
    Merge {
        /// 住户编号 / household id
        a: String,
        /// 住户编号 / household id
        b: String,
    },
    /// 确认两户不是重复 / confirm two households are not duplicates
    Dismiss {
        /// 住户编号 / household id
        a: String,
        /// 住户编号 / household id
        b: String,
    },
    /// 合并同一户内重复登记的居民 / merge two entries of one household that
    /// are the same person
    MergeResidents {
        /// 住户编号 / household id
        household: String,
        /// 居民编号 / resident id
        a: String,
        /// 居民编号 / resident id
        b: String,
    },
    /// 被服务器拒绝的修改及原因 / changes the server refused, with reasons
    Rejected,
    /// 撤销某记录被拒绝的修改 / discard a document's refused changes
    Discard {
        /// 记录编号 / document id
        doc_id: String,
    },
    /// 修改历史：谁在何时改了什么 / who changed what, when
    History {
        /// 记录编号 / document id
        doc_id: String,
        /// 只看该字段，如 residents/<居民编号>/phone / only this field
        #[arg(long)]
        path: Option<String>,
    },
    /// 以 JSON 显示任一记录 / any document as JSON
    Show {
        /// 记录编号 / document id
        doc_id: String,
    },
    /// 代码表（民族、家庭关系、标签……） / the code tables
    Codes {
        /// 只看该表 / only this table
        table: Option<CodeTable>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// 服务器地址 / server address, e.g. https://grid.example.cn
    #[arg(long)]
    pub(crate) server: String,
    /// 用户名 / login name
    #[arg(long)]
    pub(crate) username: String,
    /// 从标准输入读取密码（也可用环境变量 GRIDSYNC_PASSWORD） / read the
    /// password from standard input (or set GRIDSYNC_PASSWORD)
    #[arg(long)]
    pub(crate) password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GridCommand {
    /// 显示网格及其楼栋单元 / show a grid and its places
    Show {
        /// 15 位网格编码 / 15-digit grid code
        code: String,
    },
    /// 离线创建网格（通常由管理员在服务器发布） / create a grid offline
    /// (normally published by an administrator on the server)
    #[command(hide = true)]
    Create {
        /// 15 位网格编码 / 15-digit grid code
        #[arg(long)]
        code: String,
        /// 网格名称 / grid name
        #[arg(long)]
        name: String,
        /// 社区 / community
        #[arg(long)]
        community: String,
        /// 街道 / street
        #[arg(long)]
        street: String,
    },
    /// 给网格添加楼栋单元 / add a place (area/compound/building/unit) to a grid
    #[command(hide = true)]
    AddPlace {
        /// 15 位网格编码 / 15-digit grid code
        #[arg(long)]
        code: String,
        /// 片区 / area
        #[arg(long, default_value = "")]
        area: String,
        /// 小区/院落 / compound
        #[arg(long, default_value = "")]
        compound: String,
        /// 楼栋 / building
        #[arg(long)]
        building: String,
        /// 单元 / unit
        #[arg(long, default_value = "")]
        unit: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum HouseholdCommand {
    /// 登记住户 / record a household
    Add(HouseholdAdd),
    /// 住户列表 / list households
    List(PlaceFilterArgs),
    /// 住户完整记录（含居民和走访），JSON / the full record, residents and
    /// visits included, as JSON
    Show {
        /// 住户编号 / household id
        id: String,
    },
    /// 修改住户信息 / edit a household
    Edit(HouseholdEdit),
}

#[derive(Debug, Args)]
pub(crate) struct HouseholdAdd {
    /// 15 位网格编码 / 15-digit grid code
    #[arg(long)]
    pub(crate) grid: String,
    /// 片区 / area
    #[arg(long, default_value = "")]
    pub(crate) area: String,
    /// 小区/院落 / compound
    #[arg(long, default_value = "")]
    pub(crate) compound: String,
    /// 楼栋 / building
    #[arg(long)]
    pub(crate) building: String,
    /// 单元 / unit
    #[arg(long, default_value = "")]
    pub(crate) unit: String,
    /// 室 / room
    #[arg(long)]
    pub(crate) room: String,
    /// 包保责任人（用户编号） / package-holder user id
    #[arg(long)]
    pub(crate) holder: Option<String>,
    /// 住户标签，可重复 / household tag (repeatable)
    #[arg(long = "tag")]
    pub(crate) tags: Vec<String>,
    #[command(flatten)]
    pub(crate) house: HouseArgs,
}

/// Facts about the dwelling.
#[derive(Debug, Args)]
pub(crate) struct HouseArgs {
    /// 房屋用途 / house use: residential, rented, vacant, commercial, other
    #[arg(long)]
    pub(crate) usage: Option<String>,
    /// 产权：自有/租赁/公房/其他 / ownership, free text
    #[arg(long)]
    pub(crate) ownership: Option<String>,
    /// 建筑面积（平方米） / floor area in square metres
    #[arg(long)]
    pub(crate) floor_area: Option<f64>,
    /// 实际居住人数 / people actually living there
    #[arg(long)]
    pub(crate) occupants: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct HouseholdEdit {
    /// 住户编号 / household id
    pub(crate) id: String,
    /// 片区 / area
    #[arg(long)]
    pub(crate) area: Option<String>,
    /// 小区/院落 / compound
    #[arg(long)]
    pub(crate) compound: Option<String>,
    /// 楼栋 / building
    #[arg(long)]
    pub(crate) building: Option<String>,
    /// 单元 / unit
    #[arg(long)]
    pub(crate) unit: Option<String>,
    /// 室 / room
    #[arg(long)]
    pub(crate) room: Option<String>,
    /// 包保责任人（用户编号） / package-holder user id
    #[arg(long, conflicts_with = "no_holder")]
    pub(crate) holder: Option<String>,
    /// 取消包保责任人 / remove the package-holder
    #[arg(long)]
    pub(crate) no_holder: bool,
    /// 添加住户标签，可重复 / add a household tag (repeatable)
    #[arg(long = "tag")]
    pub(crate) tags: Vec<String>,
    /// 去掉住户标签，可重复 / remove a household tag (repeatable)
    #[arg(long = "untag")]
    pub(crate) untags: Vec<String>,
    #[command(flatten)]
    pub(crate) house: HouseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PlaceFilterArgs {
    /// 网格编码 / grid code
    #[arg(long)]
    pub(crate) grid: Option<String>,
    /// 片区 / area
    #[arg(long)]
    pub(crate) area: Option<String>,
    /// 小区/院落 / compound
    #[arg(long)]
    pub(crate) compound: Option<String>,
    /// 楼栋 / building
    #[arg(long)]
    pub(crate) building: Option<String>,
    /// 单元 / unit
    #[arg(long)]
    pub(crate) unit: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ResidentCommand {
    /// 登记居民 / add a resident to a household
    Add {
        /// 住户编号 / household id
        household_id: String,
        /// 姓名 / name
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: ResidentFields,
    },
    /// 修改居民信息 / edit a resident
    Edit {
        /// 住户编号 / household id
        household_id: String,
        /// 居民编号 / resident id
        resident_id: String,
        /// 姓名 / name
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: ResidentFields,
        /// 去掉关注标签，可重复 / remove an attention tag (repeatable)
        #[arg(long = "untag")]
        untags: Vec<String>,
        /// 清空字段，可重复 / clear a field (repeatable)
        #[arg(long, value_enum)]
        clear: Vec<ResidentField>,
    },
    /// 居民迁出/注销（记录保留） / take a resident off the ledger (the entry
    /// is kept, flagged)
    Remove {
        /// 住户编号 / household id
        household_id: String,
        /// 居民编号 / resident id
        resident_id: String,
        /// 迁出日期 YYYY-MM-DD / moved out
        #[arg(long)]
        moved_out: Option<String>,
    },
    /// 恢复已注销的居民 / put a removed resident back on the ledger
    Restore {
        /// 住户编号 / household id
        household_id: String,
        /// 居民编号 / resident id
        resident_id: String,
    },
    /// 按姓名或身份证号后几位查找 / search by name or the last digits of the
    /// ID number
    Search {
        /// 姓名的一部分，或身份证号后 4 位以上 / part of a name, or 4+ last
        /// digits of the ID number
        query: String,
    },
    /// 带某关注标签的居民 / residents with an attention tag
    Tagged {
        /// 标签代码或名称，如 living_alone_elderly 或 独居老人 / tag code or
        /// Chinese name
        tag: String,
    },
}

/// The resident flags shared by `resident add` and `resident edit`.
#[derive(Debug, Args)]
pub(crate) struct ResidentFields {
    /// 公民身份号码（18 位） / citizen ID number (18 characters)
    #[arg(long)]
    pub(crate) id_number: Option<String>,
    /// 性别代码 1 男 2 女（默认取自身份证号） / sex code (from the ID number
    /// by default)
    #[arg(long)]
    pub(crate) sex: Option<String>,
    /// 出生日期 YYYY-MM-DD（默认取自身份证号） / birth date (from the ID
    /// number by default)
    #[arg(long)]
    pub(crate) birth_date: Option<String>,
    /// 民族代码或名称，如 01 或 汉族 / ethnicity code (GB 3304) or name
    #[arg(long)]
    pub(crate) ethnicity: Option<String>,
    /// 电话 / phone
    #[arg(long)]
    pub(crate) phone: Option<String>,
    /// 与户主关系代码或名称，如 02 或 户主 / relation to the head of
    /// household (GB/T 4761) code or name
    #[arg(long)]
    pub(crate) relation: Option<String>,
    /// 居住状态 registered 户籍 / floating 流动 / lodging 寄住 / away 外出
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// 关注标签代码或名称，可重复 / attention tag code or name (repeatable)
    #[arg(long = "tag")]
    pub(crate) tags: Vec<String>,
    /// 迁入日期 YYYY-MM-DD / moved in
    #[arg(long)]
    pub(crate) moved_in: Option<String>,
    /// 备注 / note
    #[arg(long)]
    pub(crate) note: Option<String>,
}

/// A resident field `resident edit --clear` can empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ResidentField {
    IdNumber,
    Sex,
    BirthDate,
    Ethnicity,
    Phone,
    Relation,
    Status,
    MovedIn,
    MovedOut,
    Note,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContactCommand {
    /// 记录一次联系（离线可用，按楼栋名册） / record a contact with a
    /// household of the roster (offline)
    Add(ContactAdd),
    /// 我的联系记录 / my contacts, newest first
    List,
}

#[derive(Debug, Args)]
pub(crate) struct ContactAdd {
    /// 住户编号（见 roster） / household id, from `roster`
    pub(crate) household_id: String,
    /// 方式 / how: in_person 入户走访 (default), phone 电话沟通, message 信息推送, other 其他
    #[arg(long, default_value = "")]
    pub(crate) method: String,
    /// 了解到的情况 / what was found
    #[arg(long, default_value = "")]
    pub(crate) findings: String,
    /// 群众诉求 / what the household asks for
    #[arg(long, default_value = "")]
    pub(crate) needs: String,
    /// 需网格员跟进 / the grid worker should follow up
    #[arg(long)]
    pub(crate) follow_up: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum VisitCommand {
    /// 记录一次走访、电话或信息 / record a visit, call or message
    Add(VisitAdd),
}

#[derive(Debug, Args)]
pub(crate) struct VisitAdd {
    /// 住户编号 / household id
    pub(crate) household_id: String,
    /// 方式 / how: in_person 入户走访, phone 电话沟通, message 信息推送, other 其他
    #[arg(long)]
    pub(crate) method: String,
    /// 发现的情况 / what was found
    #[arg(long)]
    pub(crate) findings: String,
    /// 收集的诉求 / needs and opinions collected
    #[arg(long, default_value = "")]
    pub(crate) needs: String,
    /// 需要跟进 / a follow-up is wanted
    #[arg(long)]
    pub(crate) follow_up: bool,
    /// 时间，RFC 3339，如 2026-11-20T10:00:00+08:00（默认现在） / when,
    /// RFC 3339 (default now)
    #[arg(long, value_parser = parse_rfc3339)]
    pub(crate) at: Option<i64>,
    /// 纬度 / latitude (WGS-84)
    #[arg(long, allow_negative_numbers = true, requires = "lon")]
    pub(crate) lat: Option<f64>,
    /// 经度 / longitude (WGS-84)
    #[arg(long, allow_negative_numbers = true, requires = "lat")]
    pub(crate) lon: Option<f64>,
    /// 更正的走访记录编号（走访记录不可修改，更正另记一条） / the visit this
    /// one corrects (a recorded visit is never edited: a correction is a new entry)
    #[arg(long)]
    pub(crate) corrects: Option<String>,
}

/// A code table `gridsync codes` can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CodeTable {
    Sex,
    Ethnicity,
    Relation,
    Status,
    Tag,
    Method,
    HouseUse,
}

/// An RFC 3339 time as milliseconds since the Unix epoch.
fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            "时间格式应为 RFC 3339，如 2026-11-20T10:00:00+08:00 / expected an RFC 3339 time"
                .to_string()
        })?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| "时间超出范围 / time out of range".to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rfc3339_times_are_read_with_their_offset() {
        assert_eq!(
            parse_rfc3339("2026-11-20T10:00:00+08:00"),
            Ok(1_795_140_000_000)
        );
        assert_eq!(parse_rfc3339("2026-11-20T02:00:00Z"), Ok(1_795_140_000_000));
        assert!(parse_rfc3339("2026-11-20 10:00").is_err());
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum IssueCommand {
    /// 上报事件（可离线） / report an issue (offline)
    Report(IssueReport),
    /// 事件类别和子类（代码与中文名） / the catalogue: categories and subtypes
    Categories,
    /// 未办结的事件（默认本机全部） / open issues (all on this device by
    /// default)
    List(IssueList),
    /// 一个事件及其办理步骤、处置期限 / one issue with its steps and deadline
    Show {
        /// 事件编号 / issue id
        id: String,
    },
    /// 办理一步（受理、派遣、处置、反馈、核查、结案、评价、上报上级、撤销） /
    /// take a step of the loop
    Step(IssueStep),
    /// 取一张照片或其缩略图（本机没有则下载并保存） / fetch a photo or its
    /// thumbnail (downloaded and kept when not on this device)
    Photo {
        /// 照片编号（SHA-256） / the photo's SHA-256
        hash: String,
        /// 写入的文件 / the file to write
        #[arg(long)]
        out: PathBuf,
        /// 只取缩略图 / the thumbnail (JPEG, at most 256 px a side)
        #[arg(long)]
        thumbnail: bool,
    },
    /// 添加照片 / attach photos
    Attach {
        /// 事件编号 / issue id
        id: String,
        /// 照片文件 / photo files
        #[arg(required = true)]
        photos: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct IssueReport {
    /// 网格代码 / grid code
    #[arg(long)]
    pub(crate) grid: String,
    /// 类别代码，如 sanitation / category code
    #[arg(long)]
    pub(crate) category: String,
    /// 子类代码，如 garbage / subtype code
    #[arg(long)]
    pub(crate) subtype: String,
    /// 事件描述 / what was found
    #[arg(long)]
    pub(crate) description: String,
    /// 来源 / source: patrol 巡查, visit 走访, resident 群众反映, hotline 12345热线
    #[arg(long, default_value = "patrol")]
    pub(crate) source: String,
    /// 紧急程度 / urgency: normal 一般, urgent 紧急, critical 特急
    #[arg(long, default_value = "")]
    pub(crate) urgency: String,
    /// 相关住户编号 / the household concerned
    #[arg(long)]
    pub(crate) household: Option<String>,
    /// 位置描述，如 3号楼东侧 / building or landmark
    #[arg(long)]
    pub(crate) building: Option<String>,
    /// 纬度 / latitude (WGS-84)
    #[arg(long, requires = "lon")]
    pub(crate) lat: Option<f64>,
    /// 经度 / longitude (WGS-84)
    #[arg(long, requires = "lat")]
    pub(crate) lon: Option<f64>,
    /// 照片文件（可多次） / a photo file (repeatable)
    #[arg(long)]
    pub(crate) photo: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct IssueList {
    /// 只看该网格 / only this grid
    #[arg(long)]
    pub(crate) grid: Option<String>,
    /// 我上报的或由我处置的 / those I reported or am to handle
    #[arg(long, conflicts_with_all = ["overdue", "nearly_due"])]
    pub(crate) mine: bool,
    /// 处置超期的 / being handled past their deadline
    #[arg(long, conflicts_with = "nearly_due")]
    pub(crate) overdue: bool,
    /// 若干小时内到期的 / due within this many hours
    #[arg(long, value_name = "HOURS")]
    pub(crate) nearly_due: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct IssueStep {
    /// 事件编号 / issue id
    pub(crate) id: String,
    /// 步骤 / step: accept 受理, dispatch 派遣, handle 处置, feedback 反馈,
    /// verify_pass 核查通过, verify_fail 核查不通过, close 结案, rate 评价,
    /// escalate 上报上级, withdraw 撤销
    pub(crate) kind: String,
    /// 说明或原因 / a note (required for verify_fail and withdraw)
    #[arg(long)]
    pub(crate) note: Option<String>,
    /// 处置人：用户编号，或 dept:<部门代码>（派遣） / assignee for dispatch:
    /// a user id or dept:<code>
    #[arg(long)]
    pub(crate) assignee: Option<String>,
    /// 评价星级 1-5（评价） / rating 1-5 (rate)
    #[arg(long)]
    pub(crate) rating: Option<u8>,
    /// 照片文件（可多次） / a photo file (repeatable)
    #[arg(long)]
    pub(crate) photo: Vec<PathBuf>,
}
