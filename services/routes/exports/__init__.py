"""Monthly export of routes for the municipal services: on request (HTTP) and as a job writing files.

Teachers with insufficient levels come first (group 1, then 2, ...), then by name. Every output
is a pure function of the routes in the database and the month: no "generated at" stamps, fixed
workbook properties and zip entry times, so a re-run over the same data gives the same bytes.
Rows are read with a server-side cursor in chunks and written as they come (memory stays flat).

- `month`: the month a file is made for;
- `rows`: the export's columns and the row of one route (from the parts of its document fetched);
- `queries`: the month's rows, the recorded files (`exports` table), the job's lock;
- `writers`: CSV and JSON; `workbook`: the export's XLSX layout over `kit.xlsx`;
- `files`: atomic files, file names, the files of one municipality and the region workbook;
- `plan`, `processes`, `progress`, `job`: the export job (`python -m services.routes export`);
- `schemas`, `deps`, `service`: what the exports router answers with and does.
"""
