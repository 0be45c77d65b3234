//! Ethnicity, GB 3304-1991 (中国各民族名称的罗马字母拼写法和代码).

use crate::codes::code_table;

code_table! {
    /// Ethnicity, GB 3304-1991: the 56 ethnic groups in the standard's order,
    /// then `97` 其他 and `98` 外国血统中国籍人士.
    ///
    /// Variant names are the standard's romanisation.
    pub enum Ethnicity {
        unknown = ("未知的民族代码", "unknown ethnicity code (GB 3304)"),
        expected = "a GB 3304 ethnicity code",
        Han = ("01", "汉族"),
        Mongol = ("02", "蒙古族"),
        Hui = ("03", "回族"),
        Zang = ("04", "藏族"),
        Uygur = ("05", "维吾尔族"),
        Miao = ("06", "苗族"),
        Yi = ("07", "彝族"),
        Zhuang = ("08", "壮族"),
        Buyei = ("09", "布依族"),
        Chosen = ("10", "朝鲜族"),
        Man = ("11", "满族"),
        Dong = ("12", "侗族"),
        Yao = ("13", "瑶族"),
        Bai = ("14", "白族"),
        Tujia = ("15", "土家族"),
        Hani = ("16", "哈尼族"),
        Kazak = ("17", "哈萨克族"),
        Dai = ("18", "傣族"),
        Li = ("19", "黎族"),
        Lisu = ("20", "傈僳族"),
        Va = ("21", "佤族"),
        She = ("22", "畲族"),
        Gaoshan = ("23", "高山族"),
        Lahu = ("24", "拉祜族"),
        Sui = ("25", "水族"),
        Dongxiang = ("26", "东乡族"),
        Naxi = ("27", "纳西族"),
        Jingpo = ("28", "景颇族"),
        Kirgiz = ("29", "柯尔克孜族"),
        Tu = ("30", "土族"),
        Daur = ("31", "达斡尔族"),
        Mulam = ("32", "仫佬族"),
        Qiang = ("33", "羌族"),
        Blang = ("34", "布朗族"),
        Salar = ("35", "撒拉族"),
        Maonan = ("36", "毛南族"),
        Gelao = ("37", "仡佬族"),
        Xibe = ("38", "锡伯族"),
        Achang = ("39", "阿昌族"),
        Pumi = ("40", "普米族"),
        Tajik = ("41", "塔吉克族"),
        Nu = ("42", "怒族"),
        Uzbek = ("43", "乌孜别克族"),
        Russ = ("44", "俄罗斯族"),
        Ewenki = ("45", "鄂温克族"),
        Deang = ("46", "德昂族"),
        Bonan = ("47", "保安族"),
        Yugur = ("48", "裕固族"),
        Gin = ("49", "京族"),
        Tatar = ("50", "塔塔尔族"),
        Derung = ("51", "独龙族"),
        Oroqen = ("52", "鄂伦春族"),
        Hezhen = ("53", "赫哲族"),
        Monba = ("54", "门巴族"),
        Lhoba = ("55", "珞巴族"),
        Jino = ("56", "基诺族"),
        Other = ("97", "其他"),
        ForeignOrigin = ("98", "外国血统中国籍人士"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codes::tests::check_table;

    #[test]
    fn table() {
        check_table(
            Ethnicity::all(),
            56 + 2,
            Ethnicity::code,
            Ethnicity::name_zh,
            Ethnicity::from_code,
        );
    }

    #[test]
    fn the_56_groups_are_numbered_in_order() {
        for (i, e) in Ethnicity::all()[..56].iter().enumerate() {
            assert_eq!(e.code(), format!("{:02}", i + 1));
        }
        assert_eq!(Ethnicity::from_code("01").unwrap(), Ethnicity::Han);
        assert_eq!(Ethnicity::from_code("56").unwrap().name_zh(), "基诺族");
        assert_eq!(Ethnicity::Other.code(), "97");
        assert_eq!(Ethnicity::ForeignOrigin.name_zh(), "外国血统中国籍人士");
        assert!(Ethnicity::from_code("57").is_err());
        assert!(Ethnicity::from_code("1").is_err());
    }
}
