<#
.SYNOPSIS
Install (or upgrade in place) photomapd for the current Windows user.

.DESCRIPTION
Creates an isolated environment in %LOCALAPPDATA%\photomapd\venv (uv when installed, otherwise
python -m venv + pip) with photomapd and its tray extra, puts its Scripts folder on the user
PATH, turns on start at login (HKCU Run key), stops the daemon of this data folder
(`photomapd stop`), starts the new one in the background and prints its URL. What is added outside
the data folder is listed in install-manifest.txt, which uninstall.ps1 reads.

Environment: PHOTOMAPD_PYTHON (the Python 3.11+ to use), PHOTOMAPD_DATA_DIR,
PHOTOMAPD_INSTALL_MIN_FREE_MB, PHOTOMAPD_INSTALL_NO_UV=1, PIP_* / UV_* (passed through).

.EXAMPLE
powershell -ExecutionPolicy Bypass -File installer\install.ps1 -Folder D:\invokeai\outputs\images
#>
param(
    [string]$Source = (Split-Path -Parent $PSScriptRoot),
    [string]$Folder = "",
    [switch]$NoAutostart,
    [switch]$NoStart
)

$ErrorActionPreference = "Stop"

function Say([string]$Message) { Write-Host "photomapd: $Message" }
function Fail([string]$Message) {
    Write-Host "photomapd install: error: $Message" -ForegroundColor Red
    exit 1
}

$Source = (Resolve-Path -LiteralPath $Source -ErrorAction SilentlyContinue).Path
if (-not $Source -or -not (Select-String -Quiet -Path (Join-Path $Source "pyproject.toml") -Pattern '^name = "photomapd"' -ErrorAction SilentlyContinue)) {
    Fail "$Source is not a photomapd checkout (no pyproject.toml for photomapd)"
}
if ($Folder) {
    if (-not (Test-Path -LiteralPath $Folder -PathType Container)) { Fail "-Folder: no such folder: $Folder" }
    $Folder = (Resolve-Path -LiteralPath $Folder).Path
}

# Must match photomapd.config.default_data_dir (platformdirs, appauthor=False).
$DataDir = if ($env:PHOTOMAPD_DATA_DIR) { $env:PHOTOMAPD_DATA_DIR } else { Join-Path $env:LOCALAPPDATA "photomapd" }
$Venv = Join-Path $DataDir "venv"
$Scripts = Join-Path $Venv "Scripts"
$VenvPython = Join-Path $Scripts "python.exe"
$Exe = Join-Path $Scripts "photomapd.exe"
$Manifest = Join-Path $DataDir "install-manifest.txt"
$PidFile = Join-Path $DataDir "daemon.pid"

# --- Python ------------------------------------------------------------------------------
function Get-PythonVersion([string[]]$Command) {
    try {
        $exe = $Command[0]; $rest = @($Command | Select-Object -Skip 1)
        $out = & $exe @rest -c "import sys; print('%d.%d' % sys.version_info[:2])" 2>$null
        if ($LASTEXITCODE -eq 0) { return "$out".Trim() }
    } catch { }
    return $null
}

$Python = $null
$Version = $null
$candidates = @()
if ($env:PHOTOMAPD_PYTHON) { $candidates += ,@($env:PHOTOMAPD_PYTHON) }
else { $candidates += ,@("py", "-3"); $candidates += ,@("python3"); $candidates += ,@("python") }
function Test-NewEnough([string]$V) {
    $parts = $V.Split(".") | ForEach-Object { [int]$_ }
    return ($parts[0] -gt 3 -or ($parts[0] -eq 3 -and $parts[1] -ge 11))
}
$TooOld = $null
# The first candidate that runs and is 3.11+; one that does not run (a Store alias, a broken
# shim) or is older is skipped, and the next one tried.
foreach ($candidate in $candidates) {
    if (-not $env:PHOTOMAPD_PYTHON -and -not (Get-Command $candidate[0] -ErrorAction SilentlyContinue)) { continue }
    $v = Get-PythonVersion $candidate
    if (-not $v) { Say "skipping $($candidate -join ' '): it does not run"; continue }
    if (-not $env:PHOTOMAPD_PYTHON -and -not (Test-NewEnough $v)) {
        Say "skipping $($candidate -join ' '): Python $v is older than 3.11"
        if (-not $TooOld) { $TooOld = $candidate; $Version = $v }
        continue
    }
    $Python = $candidate; $Version = $v; break
}
if (-not $Python -and $TooOld) { $Python = $TooOld }  # explained just below
if (-not $Python) {
    Fail ("Python 3.11 or newer is needed, and none was found. Install it from python.org or " +
          "with: winget install Python.Python.3.12 - then run this again, or set PHOTOMAPD_PYTHON.")
}
$major, $minor = $Version.Split(".") | ForEach-Object { [int]$_ }
if ($major -lt 3 -or ($major -eq 3 -and $minor -lt 11)) {
    Fail ("photomapd needs Python 3.11 or newer, but $($Python -join ' ') is Python $Version. " +
          "Install a newer one (winget install Python.Python.3.12) or set PHOTOMAPD_PYTHON.")
}
Say "using Python $Version ($($Python -join ' '))"
# PyPI's torch for Windows has no CUDA, so there is no large GPU build to avoid here.

# --- disk space ----------------------------------------------------------------------------
$NeedMb = if (Test-Path -LiteralPath $VenvPython) { 500 } else { 6000 }
if ($env:PHOTOMAPD_INSTALL_MIN_FREE_MB) { $NeedMb = [int64]$env:PHOTOMAPD_INSTALL_MIN_FREE_MB }
$Drive = [System.IO.Path]::GetPathRoot([System.IO.Path]::GetFullPath($DataDir))
$FreeMb = [int64]((New-Object System.IO.DriveInfo($Drive)).AvailableFreeSpace / 1MB)
if ($FreeMb -lt $NeedMb) {
    Fail ("not enough disk space: the install needs about $NeedMb MB on $Drive and only $FreeMb MB " +
          "are free. Free some space, or set PHOTOMAPD_DATA_DIR to a folder on a bigger disk.")
}

# --- manifest ------------------------------------------------------------------------------
New-Item -ItemType Directory -Force -Path $DataDir | Out-Null
if (-not (Test-Path -LiteralPath $Manifest)) { New-Item -ItemType File -Path $Manifest | Out-Null }
function Remember([string]$Kind, [string]$Value) {
    $line = "$Kind $Value"
    if (-not (Select-String -Quiet -SimpleMatch -LiteralPath $Manifest -Pattern $line)) {
        Add-Content -LiteralPath $Manifest -Value $line
    }
}

# --- environment ---------------------------------------------------------------------------
if (-not $env:PIP_CACHE_DIR -and -not $env:PIP_NO_CACHE_DIR) { $env:PIP_NO_CACHE_DIR = "1" }
$env:PIP_DISABLE_PIP_VERSION_CHECK = "1"
$UseUv = (-not $env:PHOTOMAPD_INSTALL_NO_UV) -and (Get-Command uv -ErrorAction SilentlyContinue)
if ($UseUv -and -not $env:UV_CACHE_DIR) { $env:UV_CACHE_DIR = Join-Path $DataDir "cache\uv" }

if ((Test-Path -LiteralPath $VenvPython) -and ((Get-PythonVersion @($VenvPython)) -eq $Version)) {
    Say "upgrading the environment in $Venv"
} else {
    if (Test-Path -LiteralPath $Venv) { Remove-Item -Recurse -Force -LiteralPath $Venv }
    Say "creating an environment in $Venv (Python $Version)"
    $exe = $Python[0]; $rest = @($Python | Select-Object -Skip 1)
    if ($UseUv) { & uv venv --quiet --python $Version $Venv } else { & $exe @rest -m venv $Venv }
    if ($LASTEXITCODE -ne 0) { Fail "creating the environment failed (see above)" }
}

Say "installing photomapd[tray] and its dependencies from $Source (torch is large: several minutes on a first install)..."
# The daemon of this data folder first, found through its lock (`photomapd stop`).
# (An older photomapd.exe without `stop` only prints its usage: the sweep below covers it.)
if (Test-Path -LiteralPath $Exe) {
    & $Exe --data-dir $DataDir stop
}
# Then whatever else still runs from this environment (inside this data folder: a worker, or a
# daemon started by hand with another --data-dir): Windows cannot replace a running .exe.
$running = @(Get-Process -ErrorAction SilentlyContinue | Where-Object { $_.Path -and $_.Path -like "$Venv\*" })
foreach ($old in $running) {
    Say "stopping the running photomapd (pid $($old.Id)) to start the new version"
    Stop-Process -Id $old.Id -ErrorAction SilentlyContinue
    $old.WaitForExit(30000) | Out-Null
}
if (Test-Path -LiteralPath $PidFile) { Remove-Item -LiteralPath $PidFile -Force }
if ($UseUv) {
    & uv pip install --python $VenvPython --upgrade --reinstall-package photomapd "$Source[tray]"
} else {
    # No --quiet: pip prints each package and its download progress.
    & $VenvPython -m pip install --upgrade "$Source[tray]"
}
if ($LASTEXITCODE -ne 0) {
    Fail "installing failed (see above). Behind a proxy, set PIP_INDEX_URL / PIP_EXTRA_INDEX_URL and run this again."
}
if (-not (Test-Path -LiteralPath $Exe)) { Fail "the environment has no photomapd.exe after installing" }
New-Item -ItemType File -Force -Path (Join-Path $Venv ".photomapd-installer") | Out-Null

# --- PATH (user scope) ---------------------------------------------------------------------
$UserPath = [Environment]::GetEnvironmentVariable("Path", "User")
if (-not $UserPath) { $UserPath = "" }
if (-not ($UserPath.Split(";") -contains $Scripts)) {
    [Environment]::SetEnvironmentVariable("Path", ($UserPath.TrimEnd(";") + ";" + $Scripts).TrimStart(";"), "User")
    Say "added $Scripts to your PATH (new terminals will see it)"
}
Remember "path" $Scripts

# --- start at login ------------------------------------------------------------------------
if (-not $NoAutostart) {
    & $VenvPython -m photomapd.desktop.cli --data-dir $DataDir autostart enable --executable $Exe
    if ($LASTEXITCODE -ne 0) { Fail "could not turn on start at login (see above)" }
    Remember "autostart" "HKCU\Software\Microsoft\Windows\CurrentVersion\Run\photomapd"
}

# --- start the daemon ----------------------------------------------------------------------
if ($NoStart) {
    Say "installed; start it with: photomapd run"
    exit 0
}
New-Item -ItemType Directory -Force -Path (Join-Path $DataDir "logs") | Out-Null
$arguments = @("--data-dir", "`"$DataDir`"", "run")
if ($Folder) { $arguments += "`"$Folder`"" }
$process = Start-Process -FilePath $Exe -ArgumentList $arguments -WindowStyle Hidden -PassThru `
    -RedirectStandardOutput (Join-Path $DataDir "logs\daemon-start.log") `
    -RedirectStandardError (Join-Path $DataDir "logs\daemon-start.err.log")
Set-Content -LiteralPath $PidFile -Value $process.Id
Say "starting the daemon (log: $DataDir\logs)"
# Single quotes only: Windows PowerShell mangles double quotes in native arguments.
$poll = @'
import json, sys, time, urllib.request
from pathlib import Path
from photomapd.config import load_config
config = load_config(Path(sys.argv[1]))
host = '127.0.0.1' if config.host in ('0.0.0.0', '::') else config.host
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen('http://%s:%d/api/status' % (host, config.port), timeout=2) as r:
            print(json.load(r)['url'])
            sys.exit(0)
    except OSError:
        time.sleep(0.3)
sys.exit('timeout')
'@
$url = & $VenvPython -c $poll $DataDir
if ($LASTEXITCODE -ne 0 -or $process.HasExited) {
    Fail "the daemon did not start; see $DataDir\logs\daemon-start.err.log"
}
Say "photomapd is running: open $url"
Say "uninstall with: powershell -File `"$PSScriptRoot\uninstall.ps1`" (add -Purge to delete the index and settings)"
