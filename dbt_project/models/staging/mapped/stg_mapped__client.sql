-- The client itself, from its mapping (one row).
select * from {{ source('mapped', 'client') }}
