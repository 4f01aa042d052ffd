"""Target classes: kinematic envelopes and radar signatures of what flies in a scenario.

Numbers are round, representative values from general aeronautical knowledge (type
performance figures commonly published for the aircraft named in each comment), not
data for any one airframe. They bound what the trajectory generator lets a target do
(speed, climb, turn, acceleration) and what a radar sees (mean RCS, Swerling case).

``category`` is the coarse family later stages map to an identification class:
``fixed_wing``, ``rotary_wing``, ``uav``, ``missile`` or ``bird``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

G0 = 9.80665  # standard gravity, m/s^2
KT = 0.514444  # knot, m/s
FT = 0.3048  # foot, m
DEG = math.pi / 180.0

CATEGORIES = ("fixed_wing", "rotary_wing", "uav", "missile", "bird")


@dataclass(frozen=True)
class TargetClass:
    """Kinematic envelope and radar signature of a kind of target (SI units).

    Turn performance is the smaller of ``max_turn_rate_rps`` and the coordinated-turn
    rate at ``max_bank_rad`` (omega = g tan(bank) / v), so fast aircraft are limited by
    the load factor they can pull and slow ones by how fast they can yaw.
    """

    name: str
    category: str
    min_speed_mps: float  # slowest sustained flight (0 = can hover)
    cruise_speed_mps: float  # default speed when a waypoint gives none
    max_speed_mps: float
    max_climb_mps: float
    max_descent_mps: float  # positive number
    max_turn_rate_rps: float  # heading rate limit, rad/s
    max_bank_rad: float  # coordinated-turn bank limit, rad (load factor 1/cos(bank))
    max_accel_mps2: float  # longitudinal speed change limit, m/s^2
    max_vertical_accel_mps2: float  # how fast the climb rate may change, m/s^2
    roll_in_time_s: float  # time to go from wings level to the full-rate turn
    default_altitude_m: float  # altitude when a waypoint gives none
    max_altitude_m: float  # service ceiling
    rcs_m2: float  # mean radar cross-section
    swerling: int  # Swerling fluctuation case 0..4
    # Random wandering (birds): 1-sigma heading offset, its correlation time, and the
    # relative 1-sigma of speed; 0 for targets that fly where they are told.
    wander_heading_rad: float = 0.0
    wander_time_s: float = 0.0
    wander_speed_fraction: float = 0.0
    wander_altitude_m: float = 0.0
    description: str = ""

    @property
    def max_load_factor(self) -> float:
        return 1.0 / math.cos(self.max_bank_rad)

    def turn_rate_limit(self, speed_mps, max_bank_rad=None):
        """Largest heading rate (rad/s) at a given speed: min(yaw limit, g tan(bank) / v)."""
        import numpy as np

        bank = self.max_bank_rad if max_bank_rad is None else np.minimum(max_bank_rad, self.max_bank_rad)
        coordinated = G0 * np.tan(bank) / np.maximum(np.asarray(speed_mps, dtype=float), 1.0)
        return np.minimum(self.max_turn_rate_rps, coordinated)


def _cls(**kw) -> TargetClass:
    return TargetClass(**kw)


TARGET_CLASSES: dict[str, TargetClass] = {
    c.name: c
    for c in [
        # A320 / B737 class. Cruise M0.78 at FL350 ~ 230 m/s TAS; approach ~ 135 kt; climb
        # ~ 2,500-3,000 ft/min; standard-rate (3 deg/s) turns at most, bank <= 30 deg for
        # passenger comfort. RCS: tens of m^2 at S/L band, strongly aspect dependent, so
        # Swerling 1 (scan-to-scan fluctuation of a complex target).
        _cls(name="airliner", category="fixed_wing", min_speed_mps=65.0, cruise_speed_mps=230.0,
             max_speed_mps=260.0, max_climb_mps=15.0, max_descent_mps=20.0, max_turn_rate_rps=3.0 * DEG,
             max_bank_rad=30.0 * DEG, max_accel_mps2=1.0, max_vertical_accel_mps2=1.0, roll_in_time_s=4.0,
             default_altitude_m=35_000 * FT, max_altitude_m=12_500.0, rcs_m2=20.0, swerling=1,
             description="narrow-body jet airliner (A320 / B737 class)"),
        # Citation / Falcon / Gulfstream class: cruise M0.8 at FL410, climbs faster than an
        # airliner, smaller airframe (RCS a few m^2).
        _cls(name="business_jet", category="fixed_wing", min_speed_mps=55.0, cruise_speed_mps=230.0,
             max_speed_mps=260.0, max_climb_mps=20.0, max_descent_mps=20.0, max_turn_rate_rps=3.0 * DEG,
             max_bank_rad=30.0 * DEG, max_accel_mps2=1.5, max_vertical_accel_mps2=1.5, roll_in_time_s=3.0,
             default_altitude_m=41_000 * FT, max_altitude_m=15_500.0, rcs_m2=5.0, swerling=1,
             description="business jet (Falcon / Gulfstream class)"),
        # Cessna 172 / light twin: ~110 kt cruise, 700 ft/min climb.
        _cls(name="general_aviation", category="fixed_wing", min_speed_mps=28.0, cruise_speed_mps=57.0,
             max_speed_mps=80.0, max_climb_mps=4.0, max_descent_mps=6.0, max_turn_rate_rps=6.0 * DEG,
             max_bank_rad=45.0 * DEG, max_accel_mps2=1.0, max_vertical_accel_mps2=1.0, roll_in_time_s=2.0,
             default_altitude_m=5_000 * FT, max_altitude_m=4_500.0, rcs_m2=2.0, swerling=1,
             description="light piston aircraft (Cessna 172 class)"),
        # C-130J / A400M: cruise ~ 320-420 kt TAS at FL200-300, approach ~ 130 kt, large
        # four-engine airframe (RCS tens of m^2), tactical turns up to ~ 45 deg bank.
        _cls(name="military_transport", category="fixed_wing", min_speed_mps=55.0, cruise_speed_mps=170.0,
             max_speed_mps=215.0, max_climb_mps=10.0, max_descent_mps=15.0, max_turn_rate_rps=4.0 * DEG,
             max_bank_rad=45.0 * DEG, max_accel_mps2=1.0, max_vertical_accel_mps2=1.0, roll_in_time_s=3.0,
             default_altitude_m=7_000.0, max_altitude_m=12_000.0, rcs_m2=40.0, swerling=1,
             description="military transport (C-130J / A400M class)"),
        # F-16 / Typhoon class: 9 g structural limit (bank ~ 84 deg in a level turn),
        # instantaneous turn ~ 20-25 deg/s, ~ M2 at altitude, very high climb rates,
        # roughly 1 g longitudinal acceleration with afterburner. RCS a few m^2 (4th gen).
        _cls(name="fighter", category="fixed_wing", min_speed_mps=70.0, cruise_speed_mps=250.0,
             max_speed_mps=600.0, max_climb_mps=250.0, max_descent_mps=250.0, max_turn_rate_rps=25.0 * DEG,
             max_bank_rad=math.acos(1.0 / 9.0), max_accel_mps2=10.0, max_vertical_accel_mps2=30.0,
             roll_in_time_s=0.6, default_altitude_m=25_000 * FT, max_altitude_m=16_000.0, rcs_m2=3.0,
             swerling=1, description="jet fighter (F-16 / Typhoon class)"),
        # Medium utility helicopter (NH90 / UH-60): cruise ~ 130 kt, Vne ~ 165 kt, can hover,
        # yaws quickly at low speed. Rotor modulation makes the echo fluctuate (Swerling 1).
        _cls(name="helicopter", category="rotary_wing", min_speed_mps=0.0, cruise_speed_mps=65.0,
             max_speed_mps=85.0, max_climb_mps=10.0, max_descent_mps=8.0, max_turn_rate_rps=15.0 * DEG,
             max_bank_rad=35.0 * DEG, max_accel_mps2=2.5, max_vertical_accel_mps2=2.0, roll_in_time_s=1.5,
             default_altitude_m=1_000 * FT, max_altitude_m=6_000.0, rcs_m2=5.0, swerling=1,
             description="medium utility helicopter (NH90 / UH-60 class)"),
        # Bayraktar TB2-like MALE UAV: ~ 70-120 kt (cruise ~ 50 m/s, max ~ 220 km/h),
        # operating at 18,000-25,000 ft, slow climb, gentle turns; composite airframe ~ 1 m^2.
        _cls(name="male_uav", category="uav", min_speed_mps=25.0, cruise_speed_mps=50.0,
             max_speed_mps=62.0, max_climb_mps=5.0, max_descent_mps=6.0, max_turn_rate_rps=6.0 * DEG,
             max_bank_rad=30.0 * DEG, max_accel_mps2=1.0, max_vertical_accel_mps2=0.5, roll_in_time_s=2.0,
             default_altitude_m=18_000 * FT, max_altitude_m=8_200.0, rcs_m2=1.0, swerling=1,
             description="medium-altitude long-endurance UAV (Bayraktar TB2 class)"),
        # DJI Phantom / Mavic class multirotor: <= 20 m/s, climbs ~ 5 m/s, hovers, turns on
        # the spot; measured RCS of such drones is ~ 0.01-0.05 m^2 at X band. Propeller
        # blades modulate the echo: Swerling 1.
        _cls(name="small_drone", category="uav", min_speed_mps=0.0, cruise_speed_mps=12.0,
             max_speed_mps=20.0, max_climb_mps=5.0, max_descent_mps=3.0, max_turn_rate_rps=90.0 * DEG,
             max_bank_rad=35.0 * DEG, max_accel_mps2=4.0, max_vertical_accel_mps2=3.0, roll_in_time_s=0.5,
             default_altitude_m=100.0, max_altitude_m=3_000.0, rcs_m2=0.02, swerling=1,
             description="small multirotor drone (DJI Phantom class)"),
        # Subsonic land-attack cruise missile (Tomahawk / Storm Shadow class): M0.7-0.8 at
        # 30-50 m over the sea (sea-skimming) or following terrain, ~ 3 g manoeuvres.
        # Small, smooth airframe: RCS ~ 0.1 m^2 nose-on.
        _cls(name="cruise_missile", category="missile", min_speed_mps=150.0, cruise_speed_mps=250.0,
             max_speed_mps=280.0, max_climb_mps=30.0, max_descent_mps=40.0, max_turn_rate_rps=8.0 * DEG,
             max_bank_rad=math.acos(1.0 / 3.0), max_accel_mps2=5.0, max_vertical_accel_mps2=10.0,
             roll_in_time_s=0.5, default_altitude_m=35.0, max_altitude_m=10_000.0, rcs_m2=0.1, swerling=1,
             description="subsonic sea-skimming cruise missile (Tomahawk / Storm Shadow class)"),
        # A flock of gulls or starlings: 10-20 m/s, a few hundred metres up; one large bird
        # is ~ 0.01 m^2, a small flock a few times that. Wing beats make the echo fluctuate
        # fast (Swerling 2). Foraging flocks wheel about: heading offsets of ~ 90 deg
        # (1 sigma) that decorrelate in ~ 10 s, unlike a drone flying its route.
        _cls(name="bird_flock", category="bird", min_speed_mps=8.0, cruise_speed_mps=14.0,
             max_speed_mps=20.0, max_climb_mps=2.0, max_descent_mps=3.0, max_turn_rate_rps=30.0 * DEG,
             max_bank_rad=60.0 * DEG, max_accel_mps2=2.0, max_vertical_accel_mps2=1.0, roll_in_time_s=1.0,
             default_altitude_m=150.0, max_altitude_m=3_000.0, rcs_m2=0.05, swerling=2,
             wander_heading_rad=90.0 * DEG, wander_time_s=10.0, wander_speed_fraction=0.2,
             wander_altitude_m=30.0, description="flock of birds (gulls / starlings)"),
    ]
}


def get_class(name: str) -> TargetClass:
    """The class called ``name`` (KeyError if none)."""
    return TARGET_CLASSES[name]
