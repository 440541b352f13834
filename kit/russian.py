"""Russian words for messages people read: a count with its noun in the agreeing form."""

from __future__ import annotations

# The platform's services as people name them ("Сервис маршрутов временно недоступен"): the gateway's own
# problems and the audit service's reasons of a failed call say them.
SERVICE_NAMES_RU = {
    "assessment": "Сервис оценки",
    "resources": "Сервис ресурсов",
    "routes": "Сервис маршрутов",
    "audit": "Сервис аудита",
}


def plural(n: int, one: str, few: str, many: str) -> str:
    """The form of a noun after the number n: 1 строка, 2 строки, 5 строк (11-14 take `many`)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def count(n: int, one: str, few: str, many: str) -> str:
    """The number and its noun: count(3, "строка", "строки", "строк") == "3 строки"."""
    return f"{n} {plural(n, one, few, many)}"


def size(n: int) -> str:
    """A size in bytes as people read it: "10 МБ", "512 КБ", "300 байт"."""
    for unit, factor in (("ГБ", 1 << 30), ("МБ", 1 << 20), ("КБ", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} МБ".replace(".", ",")
    return count(n, "байт", "байта", "байт")
