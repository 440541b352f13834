"""The route (ИОМ) as a document: its content typed for the API (model), the one view model every printed
format is made from (view), and the printed formats (HTML in services.routes.printing, DOCX in docx, PDF in pdf)."""
