"""Value pools for the seed data: a fixed automotive vocabulary plus Faker pools built once per seed.

The generator samples these pools with numpy; Faker is called a few thousand times here, never once
per generated row. No value contains a comma, quote or newline, so the CSV files need no quoting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from faker import Faker

from autocorp.source.seedfiles import SERVICE_CATEGORIES

# 50 states + DC, 5 inhabited territories, 3 military "states": the design's 59 codes. Weights are
# rough populations in millions, so customers cluster where people live.
STATE_WEIGHTS: dict[str, float] = {
    "AL": 5.0, "AK": 0.73, "AZ": 7.2, "AR": 3.0, "CA": 39.5, "CO": 5.8, "CT": 3.6, "DE": 1.0, "FL": 21.5,
    "GA": 10.7, "HI": 1.5, "ID": 1.8, "IL": 12.8, "IN": 6.8, "IA": 3.2, "KS": 2.9, "KY": 4.5, "LA": 4.7,
    "ME": 1.4, "MD": 6.2, "MA": 7.0, "MI": 10.1, "MN": 5.7, "MS": 3.0, "MO": 6.2, "MT": 1.1, "NE": 2.0,
    "NV": 3.1, "NH": 1.4, "NJ": 9.3, "NM": 2.1, "NY": 20.2, "NC": 10.4, "ND": 0.78, "OH": 11.8, "OK": 4.0,
    "OR": 4.2, "PA": 13.0, "RI": 1.1, "SC": 5.1, "SD": 0.89, "TN": 6.9, "TX": 29.1, "UT": 3.3, "VT": 0.64,
    "VA": 8.6, "WA": 7.7, "WV": 1.8, "WI": 5.9, "WY": 0.58, "DC": 0.69,
    "PR": 3.3, "GU": 0.15, "VI": 0.09, "AS": 0.05, "MP": 0.05,
    "AA": 0.05, "AE": 0.15, "AP": 0.1,
}
STATE_CODES = tuple(STATE_WEIGHTS)

EMAIL_DOMAINS: dict[str, float] = {
    "gmail.com": 0.40, "yahoo.com": 0.15, "hotmail.com": 0.10, "outlook.com": 0.10, "icloud.com": 0.08,
    "aol.com": 0.05, "comcast.net": 0.04, "protonmail.com": 0.03, "msn.com": 0.03, "att.net": 0.02,
}

# per category: (SKU prefix, typical part price in dollars, typical labor minutes, part nouns)
CATEGORY_PROFILE: dict[str, tuple[str, float, int, tuple[str, ...]]] = {
    "Engine & Powertrain": ("ENG", 85, 150, (
        "Spark Plug", "Ignition Coil", "Timing Belt Kit", "Valve Cover Gasket", "Head Gasket Set",
        "Fuel Injector", "Fuel Pump", "Engine Mount", "Piston Ring Set", "Crankshaft Seal",
        "Camshaft Sensor", "Oil Pump")),
    "Transmission & Drivetrain": ("TRN", 120, 180, (
        "Clutch Kit", "Flywheel", "CV Axle", "U-Joint", "Transmission Mount", "Shift Solenoid",
        "Torque Converter", "Differential Gasket", "Transfer Case Seal", "Driveshaft",
        "Clutch Master Cylinder", "Pilot Bearing")),
    "Tires & Wheels": ("TIR", 110, 45, (
        "All-Season Tire", "Winter Tire", "Wheel Bearing", "Lug Nut Set", "TPMS Sensor", "Valve Stem",
        "Wheel Weight Set", "Hub Assembly", "Lug Stud", "Alloy Wheel", "Spare Tire", "Tire Patch Kit")),
    "Brakes": ("BRK", 55, 75, (
        "Brake Pad Set", "Brake Rotor", "Brake Caliper", "Brake Hose", "Brake Drum", "Brake Shoe Set",
        "Wheel Cylinder", "Master Cylinder", "Brake Hardware Kit", "ABS Sensor", "Parking Brake Cable",
        "Brake Line")),
    "Cooling System": ("COL", 70, 90, (
        "Radiator", "Water Pump", "Thermostat", "Radiator Hose", "Cooling Fan", "Radiator Cap",
        "Coolant Reservoir", "Heater Core", "Fan Clutch", "Heater Hose", "Thermostat Housing",
        "Coolant Temperature Sensor")),
    "Electrical System": ("ELE", 90, 60, (
        "Battery", "Alternator", "Starter Motor", "Headlight Bulb", "Fuse Kit", "Relay", "Window Motor",
        "Wiring Harness", "Ignition Switch", "Battery Terminal", "Tail Light Bulb", "Voltage Regulator")),
    "HVAC": ("HVC", 95, 90, (
        "A/C Compressor", "Cabin Air Filter", "Blower Motor", "A/C Condenser", "Evaporator Core",
        "Heater Control Valve", "Blend Door Actuator", "Expansion Valve", "Receiver Drier",
        "A/C Pressure Switch", "Refrigerant Can", "Blower Resistor")),
    "Suspension & Steering": ("SUS", 80, 120, (
        "Shock Absorber", "Strut Assembly", "Ball Joint", "Tie Rod End", "Control Arm",
        "Power Steering Pump", "Sway Bar Link", "Rack and Pinion", "Coil Spring", "Bushing Kit",
        "Strut Mount", "Steering Stabilizer")),
    "General Preventive Maintenance": ("GPM", 20, 60, (
        "Wiper Blade", "Engine Air Filter", "Serpentine Belt", "Belt Tensioner", "PCV Valve",
        "Fuel System Cleaner", "Bulb Kit", "Wiper Refill", "Battery Cleaner", "Shop Supplies Kit",
        "Hose Clamp Set", "Lubricant Spray")),
    "Exhaust & Emissions": ("EXH", 110, 90, (
        "Muffler", "Catalytic Converter", "Oxygen Sensor", "Exhaust Manifold Gasket", "EGR Valve",
        "Exhaust Pipe", "DPF Filter", "EVAP Purge Valve", "Resonator", "Exhaust Hanger", "Flex Pipe",
        "Tailpipe Tip")),
    "Fluids & Filters": ("FLD", 18, 30, (
        "Oil Filter", "Synthetic Motor Oil 5 qt", "Conventional Motor Oil 5 qt", "Fuel Filter",
        "Transmission Filter", "ATF 1 qt", "Coolant 1 gal", "Brake Fluid 12 oz", "Power Steering Fluid",
        "Gear Oil 1 qt", "Washer Fluid 1 gal", "Diesel Exhaust Fluid")),
}
assert tuple(CATEGORY_PROFILE) == SERVICE_CATEGORIES

PART_GRADES = ("Premium", "OE", "Standard", "Heavy Duty", "Performance", "Economy")
BRANDS = (
    "Bosch", "ACDelco", "Motorcraft", "Denso", "NGK", "Moog", "Monroe", "Gates", "Dorman", "Wagner",
    "Raybestos", "Fram", "Mobil 1", "Castrol", "Valvoline", "Delphi", "Walker", "Timken", "Continental",
    "Michelin", "Bridgestone", "Interstate", "Duralast", "Aisin", "KYB", "Akebono", "Champion",
)

# 10 services per category; the first of "Engine & Powertrain" and of "Brakes" get the design's ids
SERVICES: dict[str, tuple[str, ...]] = {
    "Engine & Powertrain": (
        "Engine Rebuild", "Timing Belt Replacement", "Spark Plug Replacement", "Ignition Coil Replacement",
        "Engine Diagnostic", "Valve Cover Gasket Replacement", "Head Gasket Replacement",
        "Fuel Injector Cleaning", "Fuel Pump Replacement", "Engine Mount Replacement"),
    "Transmission & Drivetrain": (
        "Transmission Rebuild", "Transmission Fluid Flush", "Clutch Replacement", "CV Axle Replacement",
        "Differential Service", "Transfer Case Service", "U-Joint Replacement", "Transmission Mount Replacement",
        "Flywheel Resurfacing", "Shift Solenoid Replacement"),
    "Tires & Wheels": (
        "Tire Rotation", "Wheel Balancing", "Four-Wheel Alignment", "Tire Mounting Set of 4", "Flat Tire Repair",
        "TPMS Sensor Replacement", "Wheel Bearing Replacement", "Lug Stud Replacement",
        "Seasonal Tire Changeover", "Rim Straightening"),
    "Brakes": (
        "Front Brake Pad Replacement", "Rear Brake Pad Replacement", "Brake Rotor Replacement",
        "Brake Caliper Replacement", "Brake Fluid Flush", "Brake Line Repair", "Parking Brake Adjustment",
        "ABS Sensor Replacement", "Master Cylinder Replacement", "Brake Drum and Shoe Service"),
    "Cooling System": (
        "Radiator Replacement", "Coolant Flush", "Water Pump Replacement", "Thermostat Replacement",
        "Radiator Hose Replacement", "Cooling Fan Replacement", "Cooling System Pressure Test",
        "Heater Core Replacement", "Coolant Reservoir Replacement", "Fan Clutch Replacement"),
    "Electrical System": (
        "Battery Replacement", "Alternator Replacement", "Starter Replacement", "Headlight Bulb Replacement",
        "Electrical Diagnostic", "Fuse and Relay Replacement", "Power Window Motor Replacement",
        "Wiring Harness Repair", "Ignition Switch Replacement", "Charging System Test"),
    "HVAC": (
        "A/C Recharge", "A/C Compressor Replacement", "Cabin Air Filter Replacement", "Blower Motor Replacement",
        "A/C Condenser Replacement", "Evaporator Replacement", "Heater Control Valve Replacement",
        "Blend Door Actuator Replacement", "A/C Leak Detection", "Climate Control Diagnostic"),
    "Suspension & Steering": (
        "Shock Absorber Replacement", "Strut Assembly Replacement", "Ball Joint Replacement",
        "Tie Rod End Replacement", "Control Arm Replacement", "Power Steering Pump Replacement",
        "Power Steering Fluid Flush", "Sway Bar Link Replacement", "Rack and Pinion Replacement",
        "Coil Spring Replacement"),
    "General Preventive Maintenance": (
        "30K Mile Service", "60K Mile Service", "90K Mile Service", "Multi-Point Inspection",
        "State Safety Inspection", "Pre-Trip Inspection", "Wiper Blade Replacement",
        "Engine Air Filter Replacement", "Fuel System Cleaning", "Seasonal Maintenance Package"),
    "Exhaust & Emissions": (
        "Muffler Replacement", "Catalytic Converter Replacement", "Oxygen Sensor Replacement",
        "Exhaust Manifold Gasket Replacement", "EGR Valve Replacement", "Emissions Test", "Exhaust Pipe Repair",
        "DPF Cleaning", "EVAP System Repair", "Resonator Replacement"),
    "Fluids & Filters": (
        "Conventional Oil Change", "Synthetic Oil Change", "High-Mileage Oil Change", "Fuel Filter Replacement",
        "Transmission Filter Replacement", "Differential Fluid Change", "Windshield Washer Fluid Service",
        "Diesel Oil Change", "Brake Fluid Top-Off", "Fluid Top-Off Package"),
}
assert all(len(v) == 10 for v in SERVICES.values()) and tuple(SERVICES) == SERVICE_CATEGORIES

_UNSAFE = re.compile(r"[,\"\r\n]")
_NOT_LETTER = re.compile(r"[^a-z]")


@dataclass(frozen=True)
class PersonPools:
    """Faker-made values to sample from; ``*_local`` are the email-safe forms of the names."""

    first_names: np.ndarray
    first_local: np.ndarray
    last_names: np.ndarray
    last_local: np.ndarray
    streets: np.ndarray
    cities: np.ndarray


def build_person_pools(seed: int, size: int = 3000) -> PersonPools:
    """Draw ``size`` names, streets and cities from a Faker seeded with ``seed`` (en_US).

    Faker draws names by frequency, so a pool with repeats keeps common names common.
    """
    fake = Faker("en_US")
    fake.seed_instance(seed)
    firsts = _draw(fake.first_name, size)
    lasts = _draw(fake.last_name, size)
    return PersonPools(
        first_names=np.array(firsts),
        first_local=np.array([_NOT_LETTER.sub("", n.lower()) for n in firsts]),
        last_names=np.array(lasts),
        last_local=np.array([_NOT_LETTER.sub("", n.lower()) for n in lasts]),
        streets=np.array(_draw(fake.street_name, size)),
        cities=np.array(_draw(fake.city, size)),
    )


def _draw(make: Callable[[], str], size: int) -> list[str]:
    """``size`` CSV-safe values with at least one letter (usable in an email address)."""
    values: list[str] = []
    while len(values) < size:
        value = _UNSAFE.sub("", make())
        if _NOT_LETTER.sub("", value.lower()):
            values.append(value)
    return values
