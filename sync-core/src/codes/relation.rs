//! Family relation to the head of household, GB/T 4761-2008 (家庭关系代码).

use crate::codes::code_table;

code_table! {
    /// Family relation to the head of household, GB/T 4761-2008, the full
    /// table. Codes ending in `0` (and `97`) are the general entries of their
    /// group, for when the specific relation is not known.
    pub enum Relation {
        unknown = ("未知的家庭关系代码", "unknown family relation code (GB/T 4761)"),
        expected = "a GB/T 4761 family relation code",
        Oneself = ("01", "本人"),
        HeadOfHousehold = ("02", "户主"),
        Spouse = ("10", "配偶"),
        Husband = ("11", "夫"),
        Wife = ("12", "妻"),
        Son = ("20", "子"),
        OnlySon = ("21", "独生子"),
        EldestSon = ("22", "长子"),
        SecondSon = ("23", "次子"),
        ThirdSon = ("24", "三子"),
        FourthSon = ("25", "四子"),
        FifthSon = ("26", "五子"),
        AdoptedOrStepSon = ("27", "养子或继子"),
        SonInLaw = ("28", "女婿"),
        OtherSon = ("29", "其他儿子"),
        Daughter = ("30", "女"),
        OnlyDaughter = ("31", "独生女"),
        EldestDaughter = ("32", "长女"),
        SecondDaughter = ("33", "次女"),
        ThirdDaughter = ("34", "三女"),
        FourthDaughter = ("35", "四女"),
        FifthDaughter = ("36", "五女"),
        AdoptedOrStepDaughter = ("37", "养女或继女"),
        DaughterInLaw = ("38", "儿媳"),
        OtherDaughter = ("39", "其他女儿"),
        Grandchild = ("40", "孙子、孙女或外孙子、外孙女"),
        SonsSon = ("41", "孙子"),
        SonsDaughter = ("42", "孙女"),
        DaughtersSon = ("43", "外孙子"),
        DaughtersDaughter = ("44", "外孙女"),
        GrandsonsWife = ("45", "孙媳妇或外孙媳妇"),
        GranddaughtersHusband = ("46", "孙女婿或外孙女婿"),
        GreatGrandson = ("47", "曾孙子或外曾孙子"),
        GreatGranddaughter = ("48", "曾孙女或外曾孙女"),
        OtherGrandchild = ("49", "其他孙子、孙女或外孙子、外孙女"),
        Parent = ("50", "父母"),
        Father = ("51", "父亲"),
        Mother = ("52", "母亲"),
        HusbandsFather = ("53", "公公"),
        HusbandsMother = ("54", "婆婆"),
        WifesFather = ("55", "岳父"),
        WifesMother = ("56", "岳母"),
        StepOrAdoptiveFather = ("57", "继父或养父"),
        StepOrAdoptiveMother = ("58", "继母或养母"),
        OtherParent = ("59", "其他父母关系"),
        Grandparent = ("60", "祖父母或外祖父母"),
        PaternalGrandfather = ("61", "祖父"),
        PaternalGrandmother = ("62", "祖母"),
        MaternalGrandfather = ("63", "外祖父"),
        MaternalGrandmother = ("64", "外祖母"),
        SpousesGrandparent = ("65", "配偶的祖父母或外祖父母"),
        GreatGrandfather = ("66", "曾祖父"),
        GreatGrandmother = ("67", "曾祖母"),
        SpousesGreatGrandparent = ("68", "配偶的曾祖父母或外曾祖父母"),
        OtherGrandparent = ("69", "其他祖父母或外祖父母关系"),
        Sibling = ("70", "兄弟姐妹"),
        ElderBrother = ("71", "兄"),
        ElderBrothersWife = ("72", "嫂"),
        YoungerBrother = ("73", "弟"),
        YoungerBrothersWife = ("74", "弟媳"),
        ElderSister = ("75", "姐姐"),
        ElderSistersHusband = ("76", "姐夫"),
        YoungerSister = ("77", "妹妹"),
        YoungerSistersHusband = ("78", "妹夫"),
        OtherSibling = ("79", "其他兄弟姐妹"),
        Other = ("80", "其他"),
        FathersElderBrother = ("81", "伯父"),
        FathersElderBrothersWife = ("82", "伯母"),
        FathersYoungerBrother = ("83", "叔父"),
        FathersYoungerBrothersWife = ("84", "婶母"),
        MothersBrother = ("85", "舅父"),
        MothersBrothersWife = ("86", "舅母"),
        MothersSistersHusband = ("87", "姨父"),
        MothersSister = ("88", "姨母"),
        FathersSistersHusband = ("89", "姑父"),
        FathersSister = ("90", "姑母"),
        PatrilinealCousin = ("91", "堂兄弟、堂姐妹"),
        OtherCousin = ("92", "表兄弟、表姐妹"),
        BrothersSon = ("93", "侄子"),
        BrothersDaughter = ("94", "侄女"),
        SistersSon = ("95", "外甥"),
        SistersDaughter = ("96", "外甥女"),
        OtherRelative = ("97", "其他亲属"),
        NonRelative = ("99", "非亲属"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codes::tests::check_table;

    #[test]
    fn table() {
        // 01-02, 10-12, ten each for 20-79, 80-97 and 99.
        check_table(
            Relation::all(),
            2 + 3 + 6 * 10 + 18 + 1,
            Relation::code,
            Relation::name_zh,
            Relation::from_code,
        );
    }

    #[test]
    fn codes_are_two_digits_with_no_gaps_within_groups() {
        let codes: Vec<u8> = Relation::all()
            .iter()
            .map(|r| {
                assert_eq!(r.code().len(), 2);
                r.code().parse().unwrap()
            })
            .collect();
        let expected: Vec<u8> = [1, 2]
            .into_iter()
            .chain(10..=12)
            .chain(20..=97)
            .chain([99])
            .collect();
        assert_eq!(codes, expected);
    }

    #[test]
    fn samples() {
        assert_eq!(
            Relation::from_code("02").unwrap(),
            Relation::HeadOfHousehold
        );
        assert_eq!(Relation::from_code("12").unwrap().name_zh(), "妻");
        assert_eq!(Relation::SonInLaw.code(), "28");
        assert_eq!(Relation::MothersSister.name_zh(), "姨母");
        assert_eq!(Relation::NonRelative.code(), "99");
        assert!(Relation::from_code("98").is_err());
        assert!(Relation::from_code("00").is_err());
    }
}
