{#
  Each adapter's process parameters: (raw header, standard column, unit). Units are the ones the
  export documents; "as exported" where the source does not say (KAMP publishes no unit for pressures).
#}
{% macro kamp_molding_parameters() %}
    {{ return([
        ("Injection_Time", "injection_time_s", "s"),
        ("Filling_Time", "filling_time_s", "s"),
        ("Plasticizing_Time", "plasticizing_time_s", "s"),
        ("Cycle_Time", "cycle_time_s", "s"),
        ("Clamp_Close_Time", "clamp_close_time_s", "s"),
        ("Cushion_Position", "cushion_position_mm", "mm"),
        ("Switch_Over_Position", "switch_over_position_mm", "mm"),
        ("Plasticizing_Position", "plasticizing_position_mm", "mm"),
        ("Clamp_Open_Position", "clamp_open_position_mm", "mm"),
        ("Max_Injection_Speed", "max_injection_speed_mm_s", "mm/s"),
        ("Max_Screw_RPM", "max_screw_rpm", "rpm"),
        ("Average_Screw_RPM", "average_screw_rpm", "rpm"),
        ("Max_Injection_Pressure", "max_injection_pressure", "as exported"),
        ("Max_Switch_Over_Pressure", "max_switch_over_pressure", "as exported"),
        ("Max_Back_Pressure", "max_back_pressure", "as exported"),
        ("Average_Back_Pressure", "average_back_pressure", "as exported"),
        ("Barrel_Temperature_1", "barrel_temperature_1_c", "°C"),
        ("Barrel_Temperature_2", "barrel_temperature_2_c", "°C"),
        ("Barrel_Temperature_3", "barrel_temperature_3_c", "°C"),
        ("Barrel_Temperature_4", "barrel_temperature_4_c", "°C"),
        ("Barrel_Temperature_5", "barrel_temperature_5_c", "°C"),
        ("Barrel_Temperature_6", "barrel_temperature_6_c", "°C"),
        ("Barrel_Temperature_7", "barrel_temperature_7_c", "°C"),
        ("Hopper_Temperature", "hopper_temperature_c", "°C"),
        ("Mold_Temperature_3", "mold_temperature_3_c", "°C"),
        ("Mold_Temperature_4", "mold_temperature_4_c", "°C"),
    ]) }}
{% endmacro %}

{% macro kamp_casting_parameters() %}
    {{ return([
        ("molten_volume", "molten_volume", "as exported"),
        ("molten_temp", "molten_temp_c", "°C"),
        ("facility_operation_cycleTime", "facility_cycle_time_s", "s"),
        ("production_cycletime", "production_cycle_time_s", "s"),
        ("low_section_speed", "low_section_speed", "as exported"),
        ("high_section_speed", "high_section_speed", "as exported"),
        ("cast_pressure", "cast_pressure", "as exported"),
        ("biscuit_thickness", "biscuit_thickness_mm", "mm"),
        ("upper_mold_temp1", "upper_mold_temp_1_c", "°C"),
        ("upper_mold_temp2", "upper_mold_temp_2_c", "°C"),
        ("lower_mold_temp1", "lower_mold_temp_1_c", "°C"),
        ("lower_mold_temp2", "lower_mold_temp_2_c", "°C"),
        ("sleeve_temperature", "sleeve_temperature_c", "°C"),
        ("physical_strength", "physical_strength", "as exported"),
        ("Coolant_temperature", "coolant_temperature_c", "°C"),
        ("EMS_operation_time", "ems_operation_time_s", "s"),
    ]) }}
{% endmacro %}

{# (name, unit) pairs for unpivot_parameters. #}
{% macro parameter_units(parameters) %}
    {%- set pairs = [] -%}
    {%- for raw, name, unit in parameters -%}{%- do pairs.append((name, unit)) -%}{%- endfor -%}
    {{ return(pairs) }}
{% endmacro %}
