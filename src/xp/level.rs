//! Level math: pure functions of a user's total XP.

/// XP needed to climb one level: the one definition of the level size. The database's
/// `xp_level()` is made from it at every migrate (`xp::rules_table`).
pub const XP_PER_LEVEL: i32 = 500;

/// The level a total of `xp` reaches: 0..=499 is level 1, 500..=999 level 2, ...
pub fn level_for(xp: i32) -> i32 {
    xp / XP_PER_LEVEL + 1
}

/// The total at which the level after `level` starts.
pub fn xp_for_next_level(level: i32) -> i32 {
    level * XP_PER_LEVEL
}

/// XP earned inside the current level.
pub fn xp_progress(xp: i32) -> i32 {
    xp - (level_for(xp) - 1) * XP_PER_LEVEL
}

/// Progress through the current level in percent (650 XP -> 30.0).
pub fn xp_progress_percentage(xp: i32) -> f64 {
    f64::from(xp_progress(xp)) / f64::from(XP_PER_LEVEL) * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_product_examples_hold() {
        assert_eq!(level_for(0), 1);
        assert_eq!(level_for(499), 1);
        assert_eq!(level_for(500), 2);
        assert_eq!(level_for(1499), 3);
        assert_eq!(level_for(650), 2);
        assert_eq!(xp_for_next_level(level_for(650)), 1000);
        assert_eq!(xp_progress(650), 150);
        assert_eq!(xp_progress_percentage(650), 30.0);
    }

    proptest! {
        #[test]
        fn progress_stays_inside_the_level(xp in 0..i32::MAX / 2) {
            let level = level_for(xp);
            prop_assert!(level >= 1);
            prop_assert!((0..XP_PER_LEVEL).contains(&xp_progress(xp)));
            prop_assert!(xp < xp_for_next_level(level));
            prop_assert!(xp >= xp_for_next_level(level) - XP_PER_LEVEL);
            let percentage = xp_progress_percentage(xp);
            prop_assert!((0.0..100.0).contains(&percentage));
        }

        #[test]
        fn level_never_drops_as_xp_grows(xp in 0..i32::MAX / 2, gain in 0..100_000i32) {
            prop_assert!(level_for(xp + gain) >= level_for(xp));
        }
    }
}
