<#
.SYNOPSIS
Remove what installer\install.ps1 added, and nothing else.

.DESCRIPTION
Stops the daemon, removes the login item (HKCU Run value), the Scripts folder from the user
PATH and the environment. The index, thumbnails, settings and logs stay in the data folder
unless -Purge is given.
#>
param([switch]$Purge)

$ErrorActionPreference = "Stop"
function Say([string]$Message) { Write-Host "photomapd: $Message" }

$DataDir = if ($env:PHOTOMAPD_DATA_DIR) { $env:PHOTOMAPD_DATA_DIR } else { Join-Path $env:LOCALAPPDATA "photomapd" }
$Venv = Join-Path $DataDir "venv"
$Scripts = Join-Path $Venv "Scripts"
$VenvPython = Join-Path $Scripts "python.exe"
$Manifest = Join-Path $DataDir "install-manifest.txt"
$PidFile = Join-Path $DataDir "daemon.pid"

if (-not (Test-Path -LiteralPath $Manifest) -and -not (Test-Path -LiteralPath $Venv) -and
    -not ($Purge -and (Test-Path -LiteralPath $DataDir))) {
    Write-Host "photomapd uninstall: error: photomapd is not installed in $DataDir" -ForegroundColor Red
    exit 1
}

if (Test-Path -LiteralPath $VenvPython) {
    & $VenvPython -m photomapd.desktop.cli --data-dir $DataDir autostart disable
}
# Every process running from the environment (the installer's daemon, or one started at login).
$running = @(Get-Process -ErrorAction SilentlyContinue | Where-Object { $_.Path -and $_.Path -like "$Venv\*" })
foreach ($process in $running) {
    Say "stopping photomapd (pid $($process.Id))"
    Stop-Process -Id $process.Id -ErrorAction SilentlyContinue
    $process.WaitForExit(30000) | Out-Null
}
if (Test-Path -LiteralPath $PidFile) { Remove-Item -LiteralPath $PidFile -Force }

if (Test-Path -LiteralPath $Manifest) {
    foreach ($line in Get-Content -LiteralPath $Manifest) {
        $kind, $value = $line.Split(" ", 2)
        if ($kind -eq "path") {
            $userPath = [Environment]::GetEnvironmentVariable("Path", "User")
            if ($userPath) {
                $kept = ($userPath.Split(";") | Where-Object { $_ -and $_ -ne $value }) -join ";"
                [Environment]::SetEnvironmentVariable("Path", $kept, "User")
                Say "removed $value from your PATH"
            }
        }
    }
    Remove-Item -LiteralPath $Manifest -Force
}

if (Test-Path -LiteralPath $Venv) {
    Remove-Item -Recurse -Force -LiteralPath $Venv
    Say "removed the environment $Venv"
}
if ($Purge) {
    if (Test-Path -LiteralPath $DataDir) { Remove-Item -Recurse -Force -LiteralPath $DataDir }
    Say "removed the data folder $DataDir (index, thumbnails, settings, logs)"
} else {
    Say "kept your index, settings and logs in $DataDir (delete with -Purge)"
}
