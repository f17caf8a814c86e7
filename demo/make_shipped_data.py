"""Rebuild demo/data/ from the public datasets (run once by a maintainer; the demo reads demo/data only).

    .venv/bin/python demo/make_shipped_data.py /path/to/shared/datasets

Transformations (also stated in ATTRIBUTION.md): none to values; files are compressed (gzip, Parquet
with zstd). The die-casting CSV is stored as Parquet with every column kept as its original text.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

OUT = Path(__file__).parent / "data"


def gzip_copy(source: Path, target: Path) -> None:
    with source.open("rb") as src, gzip.GzipFile(target, "wb", compresslevel=9, mtime=0) as dst:
        shutil.copyfileobj(src, dst)


def main(datasets: Path) -> None:
    OUT.mkdir(exist_ok=True)
    gzip_copy(
        datasets / "kamp_injection_molding/labeled_data_preprocessed.csv",
        OUT / "kamp_injection_molding.csv.gz",
    )
    shutil.copy(
        datasets / "kamp_injection_molding/LICENSE_johnwslee_MIT.txt", OUT / "LICENSE_johnwslee_MIT.txt"
    )
    gzip_copy(
        datasets / "steel_industry_energy/Steel_industry_data.csv", OUT / "steel_industry_energy.csv.gz"
    )
    casting = datasets / "kamp_die_casting/die_casting_combined.csv"
    header = casting.open(encoding="utf-8").readline().strip().split(",")
    table = pacsv.read_csv(
        casting,
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header}, strings_can_be_null=False
        ),
    )
    pq.write_table(table, OUT / "kamp_die_casting.parquet", compression="zstd", compression_level=19)
    (OUT / "kamp_cnc_machining").mkdir(exist_ok=True)
    for source in sorted((datasets / "kamp_cnc_machining").glob("*.csv")):
        gzip_copy(source, OUT / "kamp_cnc_machining" / f"{source.name}.gz")
    gzip_copy(datasets / "kamp_melting_tank/melting_tank_sample10k.csv", OUT / "kamp_melting_tank.csv.gz")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
