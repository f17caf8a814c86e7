-- Every tag the mapping declares (wide columns turned into rows), with unit and quantity kind.
select * from {{ source('mapped', 'sensor_tags') }}
